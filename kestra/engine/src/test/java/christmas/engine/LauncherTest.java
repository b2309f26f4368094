package christmas.engine;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The launcher scripts/run starts, as a process of its own: its printed webhook URLs, Kestra's URL scheme over HTTP,
 * the execution as Kestra's JSON, the state lines, a clean stop; and a server missing one secret, which fails the
 * step naming it (the launcher's environment is the only one a test can take a variable out of).
 */
class LauncherTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void aServerMissingASecretFailsTheStepNamingItAndTheLauncherStopsCleanly(@TempDir Path base) throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Map<String, String> env = new HashMap<>(System.getenv());
        env.remove("SECRET_DISCORD_WEBHOOK_URL");
        env.put("KESTRA_CHRISTMAS_BACKEND", "local");
        env.put("KESTRA_TESTING_MODE", "true");
        env.put("KESTRA_CHRISTMAS_LOCAL_DIR", base.resolve("christmas").toString());
        env.put("KESTRA_CHRISTMAS_TEMPLATES_DIR", Funnel.ROOT.resolve("templates").toString());
        env.put("KESTRA_CHRISTMAS_CLI", Funnel.CLI.toString());

        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder builder = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
            Launcher.class.getName(), "--flows", Funnel.FLOWS.toString(), "--home", base.resolve("kestra").toString(),
            "--port", String.valueOf(port), "--urls-file", base.resolve("urls").toString())
            .redirectError(base.resolve("stderr.log").toFile());
        builder.environment().clear();
        builder.environment().putAll(env);
        Process launcher = builder.start();
        List<String> lines = new CopyOnWriteArrayList<>();
        BlockingQueue<String> live = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(launcher.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = out.readLine()) != null; ) {
                    lines.add(line);
                    live.add(line);
                }
            } catch (Exception ignored) {
                // the process ended
            }
        });
        reader.start();
        try {
            String ready = awaitLine(live, "engine ready", Duration.ofSeconds(90), base);
            assertThat(ready).contains("Kestra 1.3.31, 10 flows loaded");
            awaitLine(live, "execution API: http://127.0.0.1:" + port + "/", Duration.ofSeconds(10), base);
            String signupUrl = lines.stream().filter(l -> l.startsWith("webhook signup "))
                .map(l -> l.substring("webhook signup ".length())).findFirst().orElseThrow();
            assertThat(signupUrl).isEqualTo("http://127.0.0.1:" + port
                + "/api/v1/main/executions/webhook/christmas/signup/" + Funnel.key("signup"));
            assertThat(Files.readAllLines(base.resolve("urls"))).contains("signup " + signupUrl);

            String email = Funnel.newEmail("no-secret");
            HttpResponse<String> posted = http.send(HttpRequest.newBuilder(URI.create(signupUrl))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(Funnel.sample("signup.json", email))).build(),
                HttpResponse.BodyHandlers.ofString());
            assertThat(posted.statusCode()).isEqualTo(200);
            String id = JSON.readTree(posted.body()).get("id").asText();

            JsonNode execution = awaitExecution(port, id, Duration.ofSeconds(90));
            assertThat(execution.at("/state/current").asText()).isEqualTo("FAILED");
            assertThat(execution.at("/flowId").asText()).isEqualTo("signup");
            assertThat(execution.at("/taskRunList/0/taskId").asText()).isEqualTo("handle");

            JsonNode logs = JSON.readTree(get(port, "/api/v1/main/logs/" + id).body());
            assertThat(logs.toString()).contains("Cannot find secret for key 'DISCORD_WEBHOOK_URL'");
            awaitLine(live, "signup " + id + " FAILED", Duration.ofSeconds(10), base);
            assertThat(Files.exists(base.resolve("christmas/crm.sqlite3"))).as("nothing ran, nothing written").isFalse();

            JsonNode listed = JSON.readTree(get(port, "/api/v1/main/executions?namespace=christmas&flowId=signup").body());
            assertThat(listed.at("/total").asInt()).isEqualTo(1);
            assertThat(listed.at("/results/0/id").asText()).isEqualTo(id);
            assertThat(get(port, "/api/v1/main/executions").statusCode()).as("namespace and flowId are required").isEqualTo(400);
            JsonNode flow = JSON.readTree(get(port, "/api/v1/main/flows/christmas/signup").body());
            assertThat(flow.at("/source").asText()).isEqualTo(Files.readString(Funnel.FLOWS.resolve("signup.yml")));
            assertThat(get(port, "/api/v1/main/executions/no-such-id").statusCode()).isEqualTo(404);
            assertThat(get(port, "/api/v1/main/flows").statusCode()).isEqualTo(404);
        } finally {
            // SIGTERM (as Ctrl-C's SIGINT, it runs the shutdown hook); through the handle, which keeps stdout open
            launcher.toHandle().destroy();
            assertThat(launcher.waitFor(60, TimeUnit.SECONDS)).as("the launcher stops").isTrue();
            reader.join(5000);
        }
        assertThat(lines).as("stderr: %s", Files.readString(base.resolve("stderr.log"))).contains("stopping the engine");
        assertThat(Files.exists(base.resolve("urls"))).as("the URLs file goes with the engine").isFalse();
    }

    private HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).GET().build(),
            HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode awaitExecution(int port, String id, Duration timeout) throws Exception {
        return Funnel.eventually("execution " + id + " ended", timeout, () -> {
            try {
                HttpResponse<String> response = get(port, "/api/v1/main/executions/" + id);
                JsonNode node = JSON.readTree(response.body());
                String state = node.at("/state/current").asText();
                return List.of("SUCCESS", "FAILED", "KILLED", "WARNING").contains(state) ? Optional.of(node) : Optional.empty();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static String awaitLine(BlockingQueue<String> live, String part, Duration timeout, Path base) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            String line = live.poll(250, TimeUnit.MILLISECONDS);
            if (line != null && line.contains(part)) {
                return line;
            }
        }
        throw new AssertionError("the launcher printed no line with '" + part + "' in " + timeout.toSeconds() + " s; stderr: "
            + Files.readString(base.resolve("stderr.log")));
    }
}
