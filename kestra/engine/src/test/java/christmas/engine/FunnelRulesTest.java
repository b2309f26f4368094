package christmas.engine;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import io.kestra.core.http.HttpResponse;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.flows.State;

import static org.assertj.core.api.Assertions.assertThat;

/** The funnel's rules that only the engine can prove: duplicates, stops between two emails, keys, the health check. */
class FunnelRulesTest {

    @Test
    void theSameWebhookPostedTwiceAtOnceSendsEachEmailOnce() throws Exception {
        Funnel funnel = Funnel.get();
        String email = Funnel.newEmail("twice");
        String body = Funnel.sample("noshow.json", email);
        CyclicBarrier together = new CyclicBarrier(2);
        List<CompletableFuture<String>> posts = List.of(1, 2).stream()
            .map(i -> CompletableFuture.supplyAsync(() -> {
                try {
                    together.await();
                    return funnel.post("noshow", body);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }))
            .toList();

        List<Execution> handlers = posts.stream().map(CompletableFuture::join)
            .map(id -> {
                try {
                    return funnel.awaitEnd(id);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }).toList();
        assertThat(handlers).extracting(e -> e.getState().getCurrent()).containsOnly(State.Type.SUCCESS);
        assertThat(handlers).extracting(e -> Funnel.result(e, "handle").get("planned"))
            .as("the second finds the sequence already handled").containsExactlyInAnyOrder(0, 3);

        Execution first = handlers.stream().filter(e -> {
            try {
                return !funnel.scheduledSends(e).isEmpty();
            } catch (Exception error) {
                throw new IllegalStateException(error);
            }
        }).findFirst().orElseThrow();
        Map<Integer, Execution> sends = funnel.awaitSends(first);
        assertThat(sends.values()).extracting(e -> Funnel.result(e, "send").get("status"))
            .as("%s", sends.values().stream().map(e -> Funnel.result(e, "send").get("result")).toList()).containsOnly("sent");
        String key = (String) ((Map<?, ?>) Funnel.result(first, "handle").get("result")).get("sequence_key");
        assertThat(funnel.outboxNumbers(email)).containsExactly(1, 2, 3);
        assertThat(funnel.sentEmails(key).keySet()).containsExactly(1, 2, 3);
        assertThat(funnel.sequences(email)).hasSize(1);
    }

    /** An assessment, then {@code stopFlow} right after email 2: emails 3 to 5 are skipped, with the reason. */
    @ParameterizedTest(name = "{0} stops the nurture")
    @CsvSource(delimiter = '|', value = {
        "unsubscribe | unsubscribe.json      | unsubscribed | email_status   | unsubscribed",
        "booking     | booking-calendly.json | booked       | booking_status | Booked",
    })
    void aStopEventBetweenTwoEmailsStopsTheRest(String stopFlow, String sample, String reason, String field, String value)
        throws Exception {
        Funnel funnel = Funnel.get();
        String email = Funnel.newEmail("stop-" + stopFlow);
        Execution nurture = funnel.handle("assessment", Funnel.sample("assessment.json", email));
        assertThat(nurture.getState().getCurrent()).isEqualTo(State.Type.SUCCESS);
        String key = (String) ((Map<?, ?>) Funnel.result(nurture, "handle").get("result")).get("sequence_key");

        // email 2 is due 2 s after email 1, email 3 18 s later (the fast catalogue)
        Funnel.eventually("email 2 in the outbox", Duration.ofSeconds(60),
            () -> outboxHas(funnel, email, 1));
        Execution stop = funnel.handle(stopFlow, Funnel.sample(sample, email));
        assertThat(stop.getState().getCurrent()).as("%s", funnel.logs(stop.getId())).isEqualTo(State.Type.SUCCESS);

        Map<Integer, Execution> sends = funnel.awaitSends(nurture);
        assertThat(sends.values()).extracting(e -> e.getState().getCurrent())
            .as("a skipped email is a successful execution").containsOnly(State.Type.SUCCESS);
        assertThat(Funnel.result(sends.get(2), "send").get("status")).isEqualTo("sent");
        for (int number : List.of(3, 4, 5)) {
            Map<String, Object> vars = Funnel.result(sends.get(number), "send");
            assertThat(vars.get("status")).as("email %d", number).isEqualTo("skipped");
        }
        assertThat(funnel.outboxNumbers(email)).containsExactly(2);
        assertThat(funnel.sentEmails(key).keySet()).containsExactly(1, 2);
        assertThat(funnel.sequences(email).get(0).get("stopped_reason")).isEqualTo(reason);
        assertThat(funnel.contact(email).orElseThrow().get(field)).isEqualTo(value);
    }

    private static Optional<Boolean> outboxHas(Funnel funnel, String email, int count) {
        try {
            return funnel.outbox(email).size() >= count ? Optional.of(true) : Optional.empty();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aWrongWebhookKeyFindsNothingAndStartsNothing() throws Exception {
        Funnel funnel = Funnel.get();
        String email = Funnel.newEmail("wrong-key");
        HttpResponse<?> response = funnel.postRaw("signup", "wrong-" + Funnel.key("signup"), Funnel.sample("signup.json", email));
        assertThat(response.getStatus().getCode()).isEqualTo(404);
        assertThat(response.getBody()).isEqualTo(Map.of("message", "Webhook not found"));

        HttpResponse<?> noFlow = funnel.postRaw("no-such-flow", Funnel.key("signup"), Funnel.sample("signup.json", email));
        assertThat(noFlow.getStatus().getCode()).isEqualTo(404);
        assertThat(noFlow.getBody()).isEqualTo(Map.of("message", "Flow not found"));
        assertThat(funnel.contact(email)).isEmpty();
    }

    @Test
    void theHealthCheckPassesOnTheLocalBackendAndNamesEachMissingLiveSetting() throws Exception {
        Funnel funnel = Funnel.get();
        Execution local = funnel.awaitEnd(funnel.run("health-check", Map.of()));
        assertThat(local.getState().getCurrent()).as("%s", funnel.logs(local.getId())).isEqualTo(State.Type.SUCCESS);

        Execution live = funnel.awaitEnd(funnel.run("health-check", Map.of("backend", "live")));
        assertThat(live.getState().getCurrent()).isEqualTo(State.Type.FAILED);
        // the step under it fails, naming them in its log (the health check's own execution fails with it)
        String logs = String.join("\n", funnel.allLogs(live));
        for (String name : List.of("NOTION_TOKEN", "RESEND_API_KEY", "NOTION_CONTACTS_DB_ID", "EMAIL_FROM", "CAMPAIGN_DEADLINE")) {
            assertThat(logs).as("the failed health check names %s", name).contains(name);
        }
    }
}
