package christmas.engine;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.parallel.Isolated;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.flows.State;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A malformed webhook body fails its execution once, at once (no retry: retrying cannot fix it, and it would hold
 * a slot of the handlers' queue), with the package's message naming each bad field, logged once by the step that failed on
 * it, and writes nothing.
 * Isolated: "nothing written" is checked on the row counts of the whole ledger.
 */
@Isolated
class MalformedEventsTest {

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource(delimiter = '|', value = {
        "assessment | {\"email\": \"not-an-email\", \"first_name\": \"X\", \"red_systems\": 9, \"orange_systems\": 0} | email red_systems",
        "noshow     | this is not json {                                                                            | object",
        "postcall   | {\"email\": \"a@example.com\", \"first_name\": \"A\"}                                         | call_date",
        // dates the planner cannot place: once crashes retried for ~4 minutes while every other event waited
        "assessment | {\"email\": \"y9999@example.com\", \"first_name\": \"Y\", \"red_systems\": 1, \"orange_systems\": 0, \"email_1_sent_at\": \"9999-12-31T23:59:59Z\"} | email_1_sent_at",
        "assessment | {\"email\": \"y0001@example.com\", \"first_name\": \"Y\", \"red_systems\": 1, \"orange_systems\": 0, \"email_1_sent_at\": \"0001-01-01T00:00:00+05:00\"} | email_1_sent_at",
        "noshow     | {\"email\": \"n9999@example.com\", \"first_name\": \"N\", \"scheduled_time\": \"9999-12-31T23:00:00Z\"} | scheduled_time",
    })
    void aRejectedEventFailsItsExecutionNamingEachFieldAndWritesNothing(String flow, String body, String fields)
        throws Exception {
        Funnel funnel = Funnel.get();
        long contacts = funnel.count("contacts");
        long sequences = funnel.count("sequences");

        Execution execution = funnel.awaitEnd(funnel.post(flow, body));
        assertThat(execution.getState().getCurrent()).isEqualTo(State.Type.FAILED);
        Duration took = Duration.between(execution.getState().getStartDate(), execution.getState().getEndDate().orElseThrow());
        assertThat(took).as("failed at once").isLessThan(Duration.ofSeconds(5));
        // The step under it (handler -> handle-event -> step) ran the package, which reported the rejection, and
        // failed on it: the one place a rejection is turned into a failure, and logged.
        Execution handleEvent = funnel.awaitEnd(Funnel.children(execution).get("handle"));
        Execution step = funnel.stepOf(execution);
        for (Execution failed : List.of(execution, handleEvent, step)) {
            assertThat(failed.getState().getCurrent()).as(failed.getFlowId()).isEqualTo(State.Type.FAILED);
            assertThat(failed.getState().getHistories()).extracting(State.History::getState)
                .as("no retry in %s", failed.getFlowId()).doesNotContain(State.Type.RETRYING);
        }
        Map<String, State.Type> tasks = Funnel.taskStates(step);
        assertThat(tasks.get("run")).as("the step ran and reported the rejection").isEqualTo(State.Type.SUCCESS);
        assertThat(tasks.get("rejected")).isEqualTo(State.Type.FAILED);
        assertThat(Funnel.taskStates(handleEvent)).as("nothing scheduled").doesNotContainKey("schedule");

        // Log lines reach the repository through Kestra's log queue, a moment after the execution ends: wait for the
        // errors branch's line, then check everything on that one reading.
        List<String> logs = Funnel.eventually("the errors branch's log line", Duration.ofSeconds(15), () -> {
            List<String> lines = funnel.logs(step.getId());
            return lines.stream().anyMatch(line -> line.contains(step.getId()) && line.contains("failed:"))
                ? Optional.of(lines) : Optional.empty();
        });
        List<String> rejections = logs.stream().filter(line -> line.startsWith("error:")).toList();
        assertThat(rejections).as("the Fail task's message, once: %s", logs).hasSize(1);
        for (String field : fields.split(" ")) {
            assertThat(rejections.get(0)).as("the message names %s", field).contains(field);
        }
        List<String> reported = logs.stream().filter(line -> line.contains(step.getId()) && line.contains("failed:")).toList();
        assertThat(reported).as("the errors branch logs the execution and the package's message").hasSize(1);
        assertThat(reported.get(0)).contains(rejections.get(0)).doesNotContain("exit code");
        assertThat(funnel.count("contacts")).isEqualTo(contacts);
        assertThat(funnel.count("sequences")).isEqualTo(sequences);
        assertThat(funnel.scheduledSends(execution)).isEmpty();
    }
}
