package christmas.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The launcher scripts/run starts, as a process of its own: its printed webhook URLs, Kestra's URL scheme over HTTP,
 * the execution as Kestra's JSON, the state lines, a clean stop; and a server missing one secret, which fails the
 * step naming it.
 */
class LauncherTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aServerMissingASecretFailsTheStepNamingItAndTheLauncherStopsCleanly(@TempDir Path base) throws Exception {
        Map<String, String> changes = new HashMap<>();
        changes.put("SECRET_DISCORD_WEBHOOK_URL", null);
        // retries a second apart: a missing secret fails every try of the step
        LauncherProcess launcher = LauncherProcess.start(base, LauncherProcess.flowsWithQuickRetries(base, null),
            LauncherProcess.environment(base, changes));
        try (launcher) {
            long flows;
            try (var files = Files.list(Funnel.FLOWS)) {
                flows = files.filter(f -> f.toString().endsWith(".yml")).count();
            }
            assertThat(launcher.lines.get(0)).contains("Kestra 1.3.31, " + flows + " flows loaded");
            String signupUrl = launcher.webhookUrl("signup");
            assertThat(signupUrl).isEqualTo("http://127.0.0.1:" + launcher.port
                + "/api/v1/main/executions/webhook/christmas/signup/" + Funnel.key("signup"));
            assertThat(Files.readAllLines(base.resolve("urls"))).contains("signup " + signupUrl);

            String id = launcher.post("signup", Funnel.sample("signup.json", Funnel.newEmail("no-secret")));
            JsonNode execution = launcher.awaitEnd(id, Duration.ofSeconds(90));
            assertThat(execution.at("/state/current").asText()).isEqualTo("FAILED");
            assertThat(execution.at("/flowId").asText()).isEqualTo("signup");
            assertThat(execution.at("/taskRunList/0/taskId").asText()).isEqualTo("handle");

            String step = launcher.step(execution).at("/id").asText();
            assertThat(launcher.logs(step).toString()).contains("Cannot find secret for key 'DISCORD_WEBHOOK_URL'");
            launcher.awaitLine("signup " + id + " FAILED", Duration.ofSeconds(10));
            assertThat(Files.exists(base.resolve("christmas/crm.sqlite3"))).as("nothing ran, nothing written").isFalse();

            JsonNode listed = JSON.readTree(launcher.get("/api/v1/main/executions?namespace=christmas&flowId=signup").body());
            assertThat(listed.at("/total").asInt()).isEqualTo(1);
            assertThat(listed.at("/results/0/id").asText()).isEqualTo(id);
            assertThat(launcher.get("/api/v1/main/executions").statusCode()).as("namespace and flowId are required").isEqualTo(400);
            JsonNode flow = JSON.readTree(launcher.get("/api/v1/main/flows/christmas/signup").body());
            assertThat(flow.at("/source").asText()).isEqualTo(Files.readString(base.resolve("flows/signup.yml")));
            assertThat(launcher.get("/api/v1/main/executions/no-such-id").statusCode()).isEqualTo(404);
            assertThat(launcher.get("/api/v1/main/flows").statusCode()).isEqualTo(404);
        }
        assertThat(launcher.lines).contains("stopping the engine");
        assertThat(Files.exists(base.resolve("urls"))).as("the URLs file goes with the engine").isFalse();
    }
}
