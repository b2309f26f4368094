package christmas.engine;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;

import io.kestra.core.models.flows.Flow;
import io.kestra.core.models.flows.FlowWithSource;
import io.kestra.core.models.flows.State;
import io.kestra.core.repositories.FlowRepositoryInterface;
import io.kestra.plugin.core.trigger.AbstractWebhookTrigger;

import org.slf4j.event.Level;

/**
 * The main command's engine (scripts/run): Kestra's engine with flows/ loaded and {@link LocalApi} on loopback, in
 * the foreground. Prints each webhook URL on its own line ({@code webhook <flow> <url>}), then one line per execution
 * state change ({@code <time> <flow> <execution id> <state>}); Ctrl-C stops it cleanly.
 *
 * <p>Usage: {@code Launcher --flows DIR --home DIR [--port N] [--urls-file FILE]}. Settings and secrets come from the
 * environment, as on a Kestra server ({@code ENV_<NAME>}, {@code SECRET_<NAME>} in base64). The URLs file holds one
 * {@code <flow> <url>} line per webhook while the engine runs (scripts/post-sample reads it).
 */
public final class Launcher {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneOffset.UTC);

    private Launcher() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options = options(args);
        Path flows = Path.of(options.getOrDefault("--flows", "flows"));
        Path home = Path.of(required(options, "--home"));
        int port = Integer.parseInt(options.getOrDefault("--port", "18080"));
        Path urlsFile = options.containsKey("--urls-file") ? Path.of(options.get("--urls-file")) : null;

        Instant started = Instant.now();
        Engine engine = Engine.start(home, "http://127.0.0.1:" + port + "/");
        LocalApi api;
        List<FlowWithSource> loaded;
        try {
            loaded = new FlowLoader(engine).load(flows);
            api = new LocalApi(engine, port);
        } catch (FlowLoader.InvalidFlowsException e) {
            engine.close();
            System.err.println("error: " + e.getMessage());
            System.exit(2);
            return;
        } catch (Exception e) {
            engine.close();
            throw e;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("stopping the engine");
            System.out.flush();
            deleteQuietly(urlsFile);
            api.close();
            engine.close();
            stopped.countDown();
        }, "engine-shutdown"));

        printStateChanges(engine);
        System.out.printf("engine ready in %.1f s: Kestra %s, %d flows loaded from %s%n",
            Duration.between(started, Instant.now()).toMillis() / 1000.0, kestraVersion(), loaded.size(), flows);
        List<String> urls = webhookUrls(engine, api, loaded);
        if (urlsFile != null) {
            Files.write(urlsFile, urls);
        }
        urls.forEach(line -> System.out.println("webhook " + line));
        System.out.println("execution API: " + api.baseUrl() + "/api/v1/main/executions/{id}");
        System.out.flush();
        stopped.await();
    }

    /** One {@code <flow> <url>} line per webhook trigger, with its key rendered as the endpoint renders it. */
    private static List<String> webhookUrls(Engine engine, LocalApi api, List<FlowWithSource> loaded) {
        Webhooks webhooks = new Webhooks(engine);
        FlowRepositoryInterface repository = engine.bean(FlowRepositoryInterface.class);
        List<String> urls = new ArrayList<>();
        for (FlowWithSource source : loaded) {
            Flow flow = repository.findById(Engine.TENANT, source.getNamespace(), source.getId()).orElseThrow();
            if (flow.getTriggers() == null) {
                continue;
            }
            flow.getTriggers().stream()
                .filter(t -> t instanceof AbstractWebhookTrigger)
                .map(t -> (AbstractWebhookTrigger) t)
                .forEach(t -> urls.add(flow.getId() + " " + webhooks.renderedKey(flow, t)
                    .map(key -> api.webhookUrl(flow.getNamespace(), flow.getId(), key))
                    .orElse("(its key cannot be rendered: is its SECRET_ variable set?)")));
        }
        return urls;
    }

    /**
     * One line per state an execution enters (the queue carries every update; repeats are dropped); a failed one
     * also shows its first error line, the rest being in {@code GET /api/v1/main/logs/<id>}.
     */
    private static void printStateChanges(Engine engine) {
        Map<String, State.Type> last = new ConcurrentHashMap<>();
        engine.onExecution(execution -> {
            State.Type state = execution.getState().getCurrent();
            if (last.put(execution.getId(), state) != state) {
                String line = TIME.format(Instant.now()) + " " + execution.getFlowId() + " " + execution.getId() + " " + state;
                if (state == State.Type.FAILED) {
                    line += firstError(engine, execution.getId()).map(error -> ": " + error).orElse("");
                }
                System.out.println(line);
                if (state.isTerminated()) {
                    last.remove(execution.getId());
                }
            }
        });
    }

    private static Optional<String> firstError(Engine engine, String executionId) {
        return engine.logs(executionId).stream()
            .filter(entry -> entry.getLevel() == Level.ERROR && entry.getMessage() != null)
            .map(entry -> entry.getMessage().lines().findFirst().orElse(""))
            .findFirst();
    }

    private static void deleteQuietly(Path file) {
        try {
            if (file != null) {
                Files.deleteIfExists(file);
            }
        } catch (IOException ignored) {
            // a leftover file names a stopped engine; post-sample then fails to connect, saying so
        }
    }

    /** The Kestra version this module was built against (pom.xml's kestra.version). */
    static String kestraVersion() {
        Properties properties = new Properties();
        try (InputStream in = Launcher.class.getResourceAsStream("/christmas-engine.properties")) {
            if (in != null) {
                properties.load(in);
            }
        } catch (IOException e) {
            return "(unknown version)";
        }
        return properties.getProperty("kestra.version", "(unknown version)");
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> options = new java.util.HashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("usage: Launcher --flows DIR --home DIR [--port N] [--urls-file FILE]; got " + String.join(" ", args));
            }
            options.put(args[i], args[++i]);
        }
        return options;
    }

    private static String required(Map<String, String> options, String name) {
        String value = options.get(name);
        if (value == null) {
            throw new IllegalArgumentException(name + " is required: Launcher --flows DIR --home DIR [--port N]");
        }
        return value;
    }
}
