package christmas.engine;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.flows.State;
import io.kestra.core.repositories.ExecutionRepositoryInterface;
import io.micronaut.data.model.Pageable;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Pause and resume through the {@code campaign} flow (SPEC section 11): while paused, emails that fall due are held (each
 * {@code send-email} execution ends, having sent nothing); the resume's plan goes through {@code schedule-plan} and
 * each held email is sent once. Isolated: a pause stops every test's sends (the engine has one campaign).
 */
@Isolated
class PauseResumeTest {

    @Test
    void whilePausedDueEmailsAreHeldAndTheResumeSendsEachOnce() throws Exception {
        Funnel funnel = Funnel.get();
        String email = Funnel.newEmail("paused");

        Execution refused = funnel.awaitEnd(funnel.run("campaign", Map.of("action", "pause")));
        assertThat(refused.getState().getCurrent()).as("a pause needs a reason").isEqualTo(State.Type.FAILED);
        assertThat(String.join("\n", funnel.allLogs(refused))).contains("reason: is required");

        Execution pause = funnel.awaitEnd(funnel.run("campaign", Map.of("action", "pause", "reason", "engine test")));
        assertThat(pause.getState().getCurrent()).as("%s", funnel.logs(pause.getId())).isEqualTo(State.Type.SUCCESS);
        try {
            Execution noshow = funnel.handle("noshow", Funnel.sample("noshow.json", email));
            assertThat(noshow.getState().getCurrent()).isEqualTo(State.Type.SUCCESS);
            String key = (String) ((Map<?, ?>) Funnel.result(noshow, "handle").get("result")).get("sequence_key");

            Map<Integer, Execution> held = funnel.awaitSends(noshow);
            assertThat(held.keySet()).containsExactly(1, 2, 3);
            assertThat(held.values()).extracting(e -> e.getState().getCurrent())
                .as("a held email ends its execution: no wait, no retry").containsOnly(State.Type.SUCCESS);
            assertThat(held.values()).extracting(e -> Funnel.result(e, "send").get("status")).containsOnly("held");
            assertThat(funnel.outbox(email)).isEmpty();
            assertThat(funnel.sentEmails(key)).isEmpty();

            Execution resume = funnel.awaitEnd(funnel.run("campaign", Map.of("action", "resume", "reason", "checked")));
            assertThat(resume.getState().getCurrent()).as("%s", funnel.logs(resume.getId())).isEqualTo(State.Type.SUCCESS);
            Map<?, ?> resumed = (Map<?, ?>) Funnel.result(resume, "campaign").get("result");
            assertThat(resumed.get("action")).isEqualTo("resumed");
            Map<Integer, Execution> sent = plannedSends(funnel, resume, key);
            assertThat(sent.keySet()).as("each held email planned once").containsExactly(1, 2, 3);
            assertThat(sent.values()).extracting(e -> Funnel.result(e, "send").get("status")).containsOnly("sent");
            assertThat(funnel.outboxNumbers(email)).containsExactly(1, 2, 3);
            assertThat(funnel.sentEmails(key).keySet()).containsExactly(1, 2, 3);

            Execution again = funnel.awaitEnd(funnel.run("campaign", Map.of("action", "resume")));
            Map<?, ?> replanned = (Map<?, ?>) Funnel.result(again, "campaign").get("result");
            assertThat(replanned.get("action")).isEqualTo("replanned");
            assertThat((List<?>) replanned.get("plan")).as("nothing of this contact is held any more")
                .noneMatch(item -> key.equals(((Map<?, ?>) item).get("sequence_key")));
            assertThat(funnel.outboxNumbers(email)).containsExactly(1, 2, 3);
        } finally {
            // never leave the shared engine's campaign paused (a resume of a running campaign changes nothing)
            funnel.awaitEnd(funnel.run("campaign", Map.of("action", "resume", "reason", "engine test over")));
        }
    }

    /** The send-email executions a campaign execution's resume scheduled for {@code key} (through its schedule-plan), ended. */
    private static Map<Integer, Execution> plannedSends(Funnel funnel, Execution campaign, String key) throws Exception {
        String plan = Funnel.children(campaign).get("schedule");
        assertThat(plan).as("the resume handed its plan to schedule-plan").isNotNull();
        Execution scheduling = funnel.awaitEnd(plan);
        assertThat(scheduling.getState().getCurrent()).as("%s", funnel.logs(plan)).isEqualTo(State.Type.SUCCESS);
        Map<Integer, Execution> sends = new TreeMap<>();
        for (Execution send : funnel.engine.bean(ExecutionRepositoryInterface.class)
            .findByFlowId(Engine.TENANT, "christmas", "send-email", Pageable.from(1, 5000))) {
            if (send.getTrigger() != null && send.getTrigger().getVariables() != null
                && plan.equals(send.getTrigger().getVariables().get("executionId"))
                && key.equals(send.getInputs().get("sequence_key"))) {
                Integer number = Integer.valueOf(String.valueOf(send.getInputs().get("email_number")));
                assertThat(sends.put(number, funnel.awaitEnd(send.getId()))).as("email %d planned twice", number).isNull();
            }
        }
        return sends;
    }
}
