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

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The launcher scripts/run starts, as a process of its own, with an environment the test chooses (the only way to
 * take a variable out of a server's environment) and, optionally, another flows folder or christmas-tasks command.
 * Reached over HTTP, as a user reaches it.
 */
final class LauncherProcess implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    final Path base;
    final int port;
    final List<String> lines = new CopyOnWriteArrayList<>();
    private final BlockingQueue<String> live = new LinkedBlockingQueue<>();
    private final Process process;
    private final Thread reader;
    private final HttpClient http = HttpClient.newHttpClient();

    private LauncherProcess(Path base, int port, Process process) {
        this.base = base;
        this.port = port;
        this.process = process;
        this.reader = new Thread(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = out.readLine()) != null; ) {
                    lines.add(line);
                    live.add(line);
                }
            } catch (Exception ignored) {
                // the process ended
            }
        });
        reader.start();
    }

    /** The server environment of the test JVM (its SECRET_* variables), the local settings, then {@code changes}. */
    static Map<String, String> environment(Path base, Map<String, String> changes) {
        Map<String, String> env = new HashMap<>(System.getenv());
        env.put("ENV_CHRISTMAS_BACKEND", "local");
        env.put("ENV_TESTING_MODE", "true");
        env.put("ENV_CHRISTMAS_LOCAL_DIR", base.resolve("christmas").toString());
        env.put("ENV_CHRISTMAS_CLI", Funnel.CLI.toString());
        changes.forEach((name, value) -> {
            if (value == null) {
                env.remove(name);
            } else {
                env.put(name, value);
            }
        });
        return env;
    }

    /**
     * A copy of flows/ for a test that must see a step fail: two tries a second apart instead of five over minutes and, when
     * {@code timeout} is given, every caller's step timeout set to it. Each replacement is checked to have happened.
     */
    static Path flowsWithQuickRetries(Path base, String timeout) throws Exception {
        Path copy = Files.createDirectories(base.resolve("flows"));
        int timeouts = 0;
        int callers = 0;
        try (var files = Files.list(Funnel.FLOWS)) {
            for (Path file : files.toList()) {
                String source = Files.readString(file);
                callers += source.contains("\n    flowId: step\n") ? 1 : 0;
                if (file.getFileName().toString().equals("step.yml")) {
                    String quick = source.replace("      interval: PT15S\n", "      interval: PT1S\n")
                        .replace("      maxInterval: PT5M\n", "      maxInterval: PT2S\n")
                        .replace("      maxAttempts: 5\n", "      maxAttempts: 2\n");
                    if (quick.equals(source)) {
                        throw new AssertionError("step.yml's retry is not the one this test shortens");
                    }
                    source = quick;
                } else if (timeout != null) {
                    String shortened = source.replaceAll("(?m)^(\\s+timeout: )PT\\w+$", "$1" + timeout);
                    timeouts += shortened.equals(source) ? 0 : 1;
                    source = shortened;
                }
                Files.writeString(copy.resolve(file.getFileName()), source);
            }
        }
        if (timeout != null && timeouts != callers) {
            throw new AssertionError("only " + timeouts + " of the " + callers + " flows calling the step had its timeout shortened");
        }
        return copy;
    }

    /** Starts the launcher and waits until it has printed its URLs. */
    static LauncherProcess start(Path base, Path flows, Map<String, String> env) throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> command = new java.util.ArrayList<>(List.of(java.toString()));
        command.addAll(List.of(System.getProperty("christmas.engine.java.opts", "").trim().split("\\s+")));
        command.removeIf(String::isEmpty);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Launcher.class.getName(),
            "--flows", flows.toString(), "--home", base.resolve("kestra").toString(),
            "--port", String.valueOf(port), "--urls-file", base.resolve("urls").toString()));
        ProcessBuilder builder = new ProcessBuilder(command).redirectError(base.resolve("stderr.log").toFile());
        builder.environment().clear();
        builder.environment().putAll(env);
        LauncherProcess launcher = new LauncherProcess(base, port, builder.start());
        launcher.awaitLine("execution API: http://127.0.0.1:" + port + "/", Duration.ofSeconds(90));
        return launcher;
    }

    String awaitLine(String part, Duration timeout) throws Exception {
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

    String webhookUrl(String flow) {
        return lines.stream().filter(l -> l.startsWith("webhook " + flow + " "))
            .map(l -> l.substring(("webhook " + flow + " ").length())).findFirst().orElseThrow();
    }

    HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).GET().build(),
            HttpResponse.BodyHandlers.ofString());
    }

    /** Posts a JSON body to a handler's printed webhook URL; the id of the execution created. */
    String post(String flow, String body) throws Exception {
        HttpResponse<String> posted = http.send(HttpRequest.newBuilder(URI.create(webhookUrl(flow)))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
            HttpResponse.BodyHandlers.ofString());
        if (posted.statusCode() != 200) {
            throw new AssertionError("webhook " + flow + " answered " + posted.statusCode() + ": " + posted.body());
        }
        return JSON.readTree(posted.body()).get("id").asText();
    }

    JsonNode execution(String id) throws Exception {
        return JSON.readTree(get("/api/v1/main/executions/" + id).body());
    }

    JsonNode awaitEnd(String id, Duration timeout) throws Exception {
        return Funnel.eventually("execution " + id + " ended", timeout, () -> {
            try {
                JsonNode node = execution(id);
                String state = node.at("/state/current").asText();
                return List.of("SUCCESS", "FAILED", "KILLED", "WARNING").contains(state) ? Optional.of(node) : Optional.empty();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** The execution a flow's first task ran as a Subflow (a handler's {@code handle-event}, its {@code step}). */
    JsonNode child(JsonNode execution) throws Exception {
        String id = execution.at("/taskRunList/0/outputs/executionId").asText();
        if (id.isEmpty()) {
            throw new AssertionError("execution " + execution.at("/id").asText() + " started no subflow: " + execution);
        }
        return execution(id);
    }

    /** The {@code step} execution under a handler, a send or the health check: where the Python step's logs are. */
    JsonNode step(JsonNode execution) throws Exception {
        JsonNode current = execution;
        while (!current.at("/flowId").asText().equals("step")) {
            current = child(current);
        }
        return current;
    }

    JsonNode logs(String id) throws Exception {
        return JSON.readTree(get("/api/v1/main/logs/" + id).body());
    }

    /** SIGTERM (as Ctrl-C's SIGINT, it runs the shutdown hook), through the handle, which keeps stdout open. */
    @Override
    public void close() throws Exception {
        process.toHandle().destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("the launcher did not stop within 60 s of SIGTERM");
        }
        reader.join(5000);
    }
}
