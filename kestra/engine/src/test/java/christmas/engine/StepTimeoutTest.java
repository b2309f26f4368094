package christmas.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A hung Python step must not hold the handlers' one queue (handle-event's concurrency slot) forever: past its timeout
 * it fails, and the next queued event runs. On a launcher whose christmas-tasks command never returns, with a copy of
 * flows/ whose step timeouts are 3 s and two tries a second apart instead of five over minutes (the only changes).
 */
class StepTimeoutTest {

    @Test
    void aStepPastItsTimeoutFailsAndFreesTheSlot(@TempDir Path base) throws Exception {
        Path flows = LauncherProcess.flowsWithQuickRetries(base, "PT3S");
        Path hang = base.resolve("christmas-tasks-that-hangs");
        Files.writeString(hang, "#!/bin/sh\nexec sleep 600\n");
        Files.setPosixFilePermissions(hang, PosixFilePermissions.fromString("rwxr-xr-x"));

        Map<String, String> env = LauncherProcess.environment(base, Map.of("ENV_CHRISTMAS_CLI", hang.toString()));
        try (LauncherProcess launcher = LauncherProcess.start(base, flows, env)) {
            String first = launcher.post("signup", Funnel.sample("signup.json", Funnel.newEmail("hang-1")));
            String second = launcher.post("signup", Funnel.sample("signup.json", Funnel.newEmail("hang-2")));

            JsonNode one = launcher.awaitEnd(first, Duration.ofSeconds(90));
            JsonNode two = launcher.awaitEnd(second, Duration.ofSeconds(90));
            assertThat(one.at("/state/current").asText()).isEqualTo("FAILED");
            assertThat(two.at("/state/current").asText()).as("the queued one ran once the slot was free").isEqualTo("FAILED");
            JsonNode queuedOne = launcher.child(one);
            JsonNode queuedTwo = launcher.child(two);
            assertThat(queuedOne.at("/flowId").asText()).isEqualTo("handle-event");
            Instant firstEnded = Instant.parse(queuedOne.at("/state/endDate").asText());
            Instant secondRan = Instant.parse(stateDate(queuedTwo, "RUNNING"));
            assertThat(stateDate(queuedTwo, "QUEUED")).as("the second event waited in the queue").isNotEmpty();
            assertThat(secondRan).as("one event at a time").isAfterOrEqualTo(firstEnded.minusMillis(500));

            String step = launcher.step(one).at("/id").asText();
            assertThat(launcher.logs(step).toString()).containsIgnoringCase("timeout");
        }
    }

    private static String stateDate(JsonNode execution, String state) {
        for (JsonNode history : execution.at("/state/histories")) {
            if (history.get("state").asText().equals(state)) {
                return history.get("date").asText();
            }
        }
        throw new AssertionError("never " + state + ": " + execution.at("/state"));
    }
}
