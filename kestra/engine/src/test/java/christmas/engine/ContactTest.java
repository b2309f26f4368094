package christmas.engine;

import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

import io.kestra.core.models.Label;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.flows.State;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A contact on the engine (SPEC §11): every execution about it carries its labels, set by Kestra's Labels task from the
 * step's outputs (handle-event: the address, the event, the sequence; send-email: the address, the sequence, the email
 * number), and shares the webhook execution's {@code system.correlationId}, by which {@code contact forget} finds the
 * rest of the tree; the {@code contact} flow tells the story, then forgets the address (the ledger and the outbox);
 * a later event from it starts nothing. A bad address fails the flow once, naming it.
 * Isolated: forgetting an address removes its rows, which another test counting the ledger would see go.
 */
@Isolated
class ContactTest {
    @Test
    void aContactsExecutionsAreLabelledAndTheContactFlowTellsThenForgets() throws Exception {
        Funnel funnel = Funnel.get();
        String email = Funnel.newEmail("contact");
        Execution handler = funnel.handle("assessment", Funnel.sample("assessment.json", email));
        assertThat(handler.getState().getCurrent()).as("%s", funnel.allLogs(handler)).isEqualTo(State.Type.SUCCESS);
        Map<Integer, Execution> sends = funnel.awaitSends(handler);
        assertThat(sends.keySet()).containsExactly(2, 3, 4, 5);

        Execution handleEvent = funnel.awaitEnd(Funnel.children(handler).get("handle"));
        assertThat(Label.toMap(handleEvent.getLabels()))
            .containsEntry("contact", email).containsEntry("event", "assessment").containsEntry("sequence", "5day")
            .containsEntry(Label.CORRELATION_ID, handler.getId());
        for (Map.Entry<Integer, Execution> send : sends.entrySet()) {
            assertThat(Label.toMap(send.getValue().getLabels())).as("send %d", send.getKey())
                .containsEntry("contact", email).containsEntry("sequence", "5day")
                .containsEntry("email_number", String.valueOf(send.getKey()))
                .containsEntry(Label.CORRELATION_ID, handler.getId());
        }

        Execution story = funnel.awaitEnd(funnel.run("contact", Map.of("email", email)));
        assertThat(story.getState().getCurrent()).as("%s", funnel.allLogs(story)).isEqualTo(State.Type.SUCCESS);
        assertThat(Label.toMap(story.getLabels())).containsEntry("contact", email);
        assertThat(String.valueOf(story.getOutputs().get("text")))
            .startsWith("Contact: " + email + "\n")
            .contains("5day (Christmas 2025, assessment)", "  #5  5-Day E5", "sent by kestra");

        Execution forgot = funnel.awaitEnd(funnel.run("contact", Map.of("email", email, "action", "forget")));
        assertThat(forgot.getState().getCurrent()).as("%s", funnel.allLogs(forgot)).isEqualTo(State.Type.SUCCESS);
        assertThat(String.valueOf(forgot.getOutputs().get("text")))
            .startsWith("Forgot " + email + " (the local SQLite ledger):\n")
            .contains("  outbox          4 messages (.eml files and index lines)", "Kept: a salted hash of the address");
        assertThat(funnel.contact(email)).isEmpty();
        assertThat(funnel.sequences(email)).isEmpty();
        assertThat(funnel.outbox(email)).isEmpty();
        assertThat(funnel.query("SELECT * FROM analytics WHERE email = ?", email)).isEmpty();

        Execution later = funnel.handle("noshow", Funnel.sample("noshow.json", email));
        assertThat(later.getState().getCurrent()).as("%s", funnel.allLogs(later)).isEqualTo(State.Type.SUCCESS);
        @SuppressWarnings("unchecked")
        Map<String, Object> result = (Map<String, Object>) Funnel.result(later, "handle").get("result");
        assertThat(result.get("action")).isEqualTo("forgotten");
        assertThat(funnel.scheduledSends(later)).isEmpty();
        assertThat(funnel.contact(email)).as("nothing written").isEmpty();
    }

    @Test
    void aBadAddressFailsTheContactFlowOnceNamingIt() throws Exception {
        Funnel funnel = Funnel.get();
        Execution story = funnel.awaitEnd(funnel.run("contact", Map.of("email", "not-an-address")));
        assertThat(story.getState().getCurrent()).isEqualTo(State.Type.FAILED);
        assertThat(String.join("\n", funnel.allLogs(story)))
            .contains("contact request: payload.email: is not a valid email address");
        assertThat(story.getLabels().stream().map(Label::key)).doesNotContain("contact");
    }
}
