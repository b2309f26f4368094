package christmas.engine;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The {@code failure-alert} flow on the engine: Kestra's Flow trigger with preconditions starts it for every failed
 * execution of the namespace, and the package posts to Discord. Each test runs a launcher of its own, because the
 * Discord webhook is a secret Kestra reads from its environment when it starts: here a fake Discord on loopback that
 * records each message and answers what the test says.
 *
 * <p>A rejected signup fails three executions (its step, handle-event, the handler): one message, with the flow, the
 * execution, the package's first error line and the execution's link in Kestra's UI. Discord answering 500 fails no
 * execution. Past three alerts in ten minutes the next failure is held and its summary scheduled at the window's end.
 * An alert whose own step fails (the Discord secret missing) starts no further alert.
 */
class FailureAlertTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration ALERTS_TIMEOUT = Duration.ofSeconds(120);
    private static final String ERROR = "signup event: email: is not a valid email address (An email address must have an @-sign.)";

    /** A Discord webhook on 127.0.0.1: every posted body, and the status it answers. */
    static final class FakeDiscord implements AutoCloseable {
        final List<JsonNode> bodies = new CopyOnWriteArrayList<>();
        volatile int status = 204;
        final HttpServer server;
        final String url;

        FakeDiscord() throws IOException {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
            server.createContext("/api/webhooks/1/engine-test", exchange -> {
                try (InputStream in = exchange.getRequestBody()) {
                    bodies.add(JSON.readTree(in.readAllBytes()));
                }
                exchange.sendResponseHeaders(status, -1);
                exchange.close();
            });
            server.start();
            url = "http://127.0.0.1:" + server.getAddress().getPort() + "/api/webhooks/1/engine-test";
        }

        String content(int index) {
            return bodies.get(index).at("/content").asText();
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }

    private static String base64(String value) {
        return Base64.getEncoder().encodeToString(value.getBytes(StandardCharsets.UTF_8));
    }

    /** A signup the package refuses (its address has no @): the handler's execution, once it has failed. */
    private static JsonNode rejectedSignup(LauncherProcess launcher) throws Exception {
        String id = launcher.post("signup", "{\"email\": \"not-an-email\", \"first_name\": \"X\"}");
        JsonNode execution = launcher.awaitEnd(id, Duration.ofSeconds(90));
        assertThat(execution.at("/state/current").asText()).isEqualTo("FAILED");
        return execution;
    }

    /** The failure-alert executions, once there are {@code count} and every one has ended. */
    private static List<JsonNode> awaitAlerts(LauncherProcess launcher, int count) throws Exception {
        return Funnel.eventually(count + " failure-alert executions ended", ALERTS_TIMEOUT, () -> {
            try {
                JsonNode listed = JSON.readTree(launcher.get(
                    "/api/v1/main/executions?namespace=christmas&flowId=failure-alert&size=100").body());
                List<JsonNode> ended = new ArrayList<>();
                for (JsonNode summary : listed.at("/results")) {
                    JsonNode execution = launcher.execution(summary.at("/id").asText());
                    if (List.of("SUCCESS", "FAILED", "KILLED", "WARNING").contains(execution.at("/state/current").asText())) {
                        ended.add(execution);
                    }
                }
                return listed.at("/total").asInt() == count && ended.size() == count ? Optional.of(ended) : Optional.empty();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** What the package reported for an alert: its step's {@code result} output, read on the alert's execution. */
    private static JsonNode result(JsonNode alert) {
        for (JsonNode run : alert.at("/taskRunList")) {
            if (run.at("/taskId").asText().equals("alert")) {
                return run.at("/outputs/outputs/result");
            }
        }
        throw new AssertionError("no alert task in " + alert);
    }

    /** The alert started by the failure of {@code executionId} (the Flow trigger's {@code executionId}). */
    private static JsonNode alertFor(List<JsonNode> alerts, String executionId) {
        return alerts.stream().filter(a -> a.at("/trigger/variables/executionId").asText().equals(executionId))
            .findFirst().orElseThrow(() -> new AssertionError("no failure-alert for " + executionId + ": " + alerts));
    }

    @Test
    void aFailurePostsOneAlertDiscordDownFailsNothingAndABurstIsHeldForASummary(@TempDir Path base) throws Exception {
        try (FakeDiscord discord = new FakeDiscord()) {
            Map<String, String> changes = new HashMap<>();
            changes.put("SECRET_DISCORD_WEBHOOK_URL", base64(discord.url));
            changes.put("ENV_CHRISTMAS_CACHE_DIR", base.resolve("cache").toString());
            try (LauncherProcess launcher = LauncherProcess.start(base, LauncherProcess.flowsWithQuickRetries(base, null),
                LauncherProcess.environment(base, changes))) {

                // Discord down: the alert is tried once, fails, and every alert execution still succeeds
                discord.status = 500;
                JsonNode down = rejectedSignup(launcher);
                List<JsonNode> alerts = awaitAlerts(launcher, 3);
                assertThat(alerts).extracting(a -> a.at("/state/current").asText()).containsOnly("SUCCESS");
                assertThat(discord.bodies).hasSize(1);
                String downStep = launcher.step(down).at("/id").asText();
                assertThat(result(alertFor(alerts, downStep)).at("/discord").asText()).isEqualTo("failed");

                // one rejected signup, three failed executions (step, handle-event, signup): one message
                discord.status = 204;
                JsonNode signup = rejectedSignup(launcher);
                JsonNode handleEvent = launcher.child(signup);
                String step = launcher.step(signup).at("/id").asText();
                alerts = awaitAlerts(launcher, 6);
                assertThat(discord.bodies).hasSize(2);
                assertThat(discord.content(1)).isEqualTo("Kestra: christmas.step failed (handle signup)\n"
                    + "Execution: " + step + "\n"
                    + "First error: " + ERROR + "\n"
                    + "http://127.0.0.1:" + launcher.port + "/ui/main/executions/christmas/step/" + step);
                assertThat(discord.bodies.get(1).at("/allowed_mentions/parse").size()).isZero();
                assertThat(result(alertFor(alerts, step)).at("/outcome").asText()).isEqualTo("posted");
                for (String caller : List.of(handleEvent.at("/id").asText(), signup.at("/id").asText())) {
                    JsonNode folded = result(alertFor(alerts, caller));
                    assertThat(folded.at("/outcome").asText()).as("the callers' failures are the step's").isEqualTo("folded");
                    assertThat(folded.at("/folded_into").asText()).isEqualTo(step);
                }

                // a third (with the note that more will be summarised), then a fourth: held, its summary scheduled
                rejectedSignup(launcher);
                awaitAlerts(launcher, 9);
                assertThat(discord.bodies).hasSize(3);
                assertThat(discord.content(2)).contains("3 alerts in 10 minutes", "summarised in one message per 10 minutes");
                JsonNode fourth = rejectedSignup(launcher);
                Instant failedAt = Instant.now();
                alerts = awaitAlerts(launcher, 12);
                Thread.sleep(2000);
                assertThat(discord.bodies).as("held, not posted").hasSize(3);
                JsonNode held = alertFor(alerts, launcher.step(fourth).at("/id").asText());
                assertThat(result(held).at("/outcome").asText()).isEqualTo("held");
                Instant summaryAt = Instant.parse(result(held).at("/summary_at").asText());
                assertThat(summaryAt).isBetween(failedAt.plus(Duration.ofMinutes(9)), failedAt.plus(Duration.ofMinutes(11)));
                String summaryId = null;
                for (JsonNode run : held.at("/taskRunList")) {
                    if (run.at("/taskId").asText().equals("summary")) {
                        summaryId = run.at("/outputs/executionId").asText();
                    }
                }
                assertThat(summaryId).as("the summary task ran: %s", held).isNotEmpty();
                JsonNode scheduled = launcher.execution(summaryId);
                assertThat(scheduled.at("/flowId").asText()).isEqualTo("step");
                assertThat(scheduled.at("/inputs/command").asText()).isEqualTo("alert-summary");
                assertThat(scheduled.at("/state/current").asText()).as("waiting for the window's end").isEqualTo("CREATED");
                assertThat(Instant.parse(scheduled.at("/scheduleDate").asText())).isEqualTo(summaryAt);
            }
        }
    }

    @Test
    void anAlertWhoseStepFailsStartsNoFurtherAlert(@TempDir Path base) throws Exception {
        Map<String, String> changes = new HashMap<>();
        changes.put("SECRET_DISCORD_WEBHOOK_URL", null);  // every step fails: "Cannot find secret", the alerts' too
        try (LauncherProcess launcher = LauncherProcess.start(base, LauncherProcess.flowsWithQuickRetries(base, null),
            LauncherProcess.environment(base, changes))) {
            launcher.post("signup", Funnel.sample("signup.json", Funnel.newEmail("alert-loop")));
            List<JsonNode> alerts = awaitAlerts(launcher, 3);
            assertThat(alerts).extracting(a -> a.at("/state/current").asText()).containsOnly("FAILED");
            Thread.sleep(10_000);  // an alert started by a failed alert, or by its step, would have come by now
            JsonNode listed = JSON.readTree(launcher.get(
                "/api/v1/main/executions?namespace=christmas&flowId=failure-alert&size=100").body());
            assertThat(listed.at("/total").asInt()).as("the three failures of the signup only").isEqualTo(3);
            assertThat(alerts).extracting(a -> a.at("/trigger/variables/flowId").asText())
                .containsExactlyInAnyOrder("step", "handle-event", "signup");
        }
    }
}
