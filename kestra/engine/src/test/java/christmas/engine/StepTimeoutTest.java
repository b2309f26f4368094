package christmas.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A hung Python step must not hold a slot of handle-event's queue forever: past its timeout it fails, and the next
 * queued event runs. On a launcher whose christmas-tasks command never returns, with a copy of flows/ whose step
 * timeouts are 3 s and two tries a second apart instead of five over minutes (the only changes); one event more than
 * handle-event's concurrency limit is posted, so one of them waits for a slot.
 */
class StepTimeoutTest {
    private static final Pattern LIMIT = Pattern.compile("(?m)^concurrency:\\n  limit: (\\d+)$");

    @Test
    void aStepPastItsTimeoutFailsAndFreesTheSlot(@TempDir Path base) throws Exception {
        Path flows = LauncherProcess.flowsWithQuickRetries(base, "PT3S");
        Matcher limit = LIMIT.matcher(Files.readString(flows.resolve("handle-event.yml")));
        assertThat(limit.find()).as("handle-event has a concurrency limit").isTrue();
        int slots = Integer.parseInt(limit.group(1));
        Path hang = base.resolve("christmas-tasks-that-hangs");
        Files.writeString(hang, "#!/bin/sh\nexec sleep 600\n");
        Files.setPosixFilePermissions(hang, PosixFilePermissions.fromString("rwxr-xr-x"));

        Map<String, String> env = LauncherProcess.environment(base, Map.of("ENV_CHRISTMAS_CLI", hang.toString()));
        try (LauncherProcess launcher = LauncherProcess.start(base, flows, env)) {
            List<String> posted = new ArrayList<>();
            for (int n = 0; n <= slots; n++) {
                posted.add(launcher.post("signup", Funnel.sample("signup.json", Funnel.newEmail("hang-" + n))));
            }
            List<JsonNode> handled = new ArrayList<>();
            for (String id : posted) {
                JsonNode handler = launcher.awaitEnd(id, Duration.ofSeconds(120));
                assertThat(handler.at("/state/current").asText()).as("every event, the queued one too").isEqualTo("FAILED");
                JsonNode child = launcher.child(handler);
                assertThat(child.at("/flowId").asText()).isEqualTo("handle-event");
                handled.add(child);
            }
            List<JsonNode> queued = handled.stream().filter(e -> stateDate(e, "QUEUED") != null).toList();
            assertThat(queued).as("one event more than the slots waited for one").isNotEmpty();
            Instant firstFreed = handled.stream().filter(e -> stateDate(e, "QUEUED") == null)
                .map(e -> Instant.parse(e.at("/state/endDate").asText())).min(Instant::compareTo).orElseThrow();
            for (JsonNode waited : queued) {
                assertThat(Instant.parse(stateDate(waited, "RUNNING"))).as("it ran once a slot was free")
                    .isAfterOrEqualTo(firstFreed.minusMillis(500));
            }

            String step = launcher.step(launcher.awaitEnd(posted.get(0), Duration.ofSeconds(5))).at("/id").asText();
            assertThat(launcher.logs(step).toString()).containsIgnoringCase("timeout");
        }
    }

    /** When the execution entered `state`, or null when it never did. */
    private static String stateDate(JsonNode execution, String state) {
        for (JsonNode history : execution.at("/state/histories")) {
            if (history.get("state").asText().equals(state)) {
                return history.get("date").asText();
            }
        }
        return null;
    }
}
