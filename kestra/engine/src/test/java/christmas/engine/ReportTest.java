package christmas.engine;

import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.flows.State;
import io.kestra.core.storages.StorageInterface;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The daily {@code report} flow on the engine (run by hand, as its Schedule trigger would): it reads the local ledger the
 * other flows wrote, keeps the HTML report as the execution's output file (in Kestra's storage, where the UI's Outputs
 * tab opens it) and its text summary as an output; with no Discord webhook configured it says so and still succeeds.
 * A bad {@code since} fails the execution once, with the package's message.
 */
class ReportTest {
    @Test
    void theReportCountsTheLedgerAndKeepsTheHtmlAsItsOutputFile() throws Exception {
        Funnel funnel = Funnel.get();
        String email = Funnel.newEmail("report");
        Execution nurture = funnel.handle("assessment", Funnel.sample("assessment.json", email));
        assertThat(funnel.awaitSends(nurture).values()).extracting(e -> Funnel.result(e, "send").get("status"))
            .containsOnly("sent");

        long before = funnel.count("contacts");
        Execution report = funnel.awaitEnd(funnel.run("report", Map.of()));
        assertThat(report.getState().getCurrent()).as("%s", funnel.logs(report.getId())).isEqualTo(State.Type.SUCCESS);
        Map<String, Object> result = Funnel.result(report, "report");
        assertThat(result.get("rejected")).isEqualTo(false);
        assertThat(result.get("discord")).isEqualTo("not configured");
        // the ledger as it was while the report read it (the other tests add contacts meanwhile)
        long contacts = ((Number) result.get("contacts")).longValue();
        assertThat(contacts).isBetween(before, funnel.count("contacts"));
        assertThat(((Number) result.get("sent")).longValue()).isGreaterThanOrEqualTo(5);

        String summary = String.valueOf(report.getOutputs().get("summary"));
        assertThat(summary).startsWith("Christmas 2025: daily report, ").contains("Contacts " + contacts + ": ");

        URI file = URI.create(String.valueOf(report.getOutputs().get("report")));
        assertThat(file.getScheme()).isEqualTo("kestra");
        assertThat(file.getPath()).endsWith("report.html");
        String html;
        try (InputStream in = funnel.engine.bean(StorageInterface.class).get(Engine.TENANT, "christmas", file)) {
            html = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertThat(html).startsWith("<!DOCTYPE html>").contains("<svg id=\"funnel-chart\"", "<svg id=\"sends-chart\"",
            "<div class=\"tile\" data-tile=\"contacts\"><b>" + contacts + "</b>");
    }

    @Test
    void aBadSinceFailsOnceWithThePackagesMessage() throws Exception {
        Funnel funnel = Funnel.get();
        Execution report = funnel.awaitEnd(funnel.run("report", Map.of("since", "yesterday")));
        assertThat(report.getState().getCurrent()).isEqualTo(State.Type.FAILED);
        List<String> logs = funnel.allLogs(report);  // the step under it fails with the package's message
        assertThat(String.join("\n", logs)).contains("payload.since: 'yesterday' is not a date such as 2026-12-01");
        assertThat(report.getOutputs()).as("no output file for a refused report").isNullOrEmpty();
    }
}
