package christmas.engine;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.kestra.core.http.HttpResponse;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.executions.LogEntry;
import io.kestra.core.models.executions.TaskRun;
import io.kestra.core.models.flows.State;
import io.kestra.core.repositories.ExecutionRepositoryInterface;
import io.kestra.core.serializers.JacksonMapper;
import io.kestra.plugin.core.trigger.WebhookResponse;
import io.micronaut.data.model.Pageable;


/**
 * One engine for the whole test JVM, with flows/ loaded unchanged and the real christmas-tasks of the repository's
 * venv on the local backends (a SQLite ledger and an outbox in a fresh folder), testing mode and the fast catalogue
 * (examples/fast-catalogue.json: seconds instead of minutes). Secrets are the test JVM's environment ({@code
 * SECRET_*}, base64), exactly as a Kestra server reads them: the pom gives the package's, scripts/engine one webhook
 * key per event kind (as `christmas-tasks events` lists them).
 *
 * <p>Everything a test checks is read where the funnel wrote it: executions from Kestra's repository, the outbox
 * index, the SQLite ledger.
 */
final class Funnel {
    static final Path ROOT = Path.of(System.getProperty("christmas.root", "../..")).toAbsolutePath().normalize();
    static final Path FLOWS = ROOT.resolve("flows");
    static final Path CLI = ROOT.resolve(".venv/bin/christmas-tasks");
    static final Duration HANDLER_TIMEOUT = Duration.ofSeconds(90);
    static final Duration SEND_TIMEOUT = Duration.ofSeconds(120);
    private static final ObjectMapper JSON = JacksonMapper.ofJson();

    private static Funnel instance;

    final Engine engine;
    final Webhooks webhooks;
    final Path localDir;
    final Path catalogue;
    final List<Double> handlerSeconds = java.util.Collections.synchronizedList(new ArrayList<>());

    private Funnel(Engine engine, Path localDir, Path catalogue) {
        this.engine = engine;
        this.webhooks = new Webhooks(engine);
        this.localDir = localDir;
        this.catalogue = catalogue;
    }

    /** The shared funnel, started on first use; stopped when the test JVM exits. */
    static synchronized Funnel get() throws Exception {
        if (instance == null) {
            instance = start();
            Funnel started = instance;
            Runtime.getRuntime().addShutdownHook(new Thread(started.engine::close));
        }
        return instance;
    }

    private static Funnel start() throws Exception {
        if (!Files.isExecutable(CLI)) {
            throw new IllegalStateException(CLI + " is missing: the engine tests run the package's own command; "
                + "scripts/test creates the venv (or: python3 -m venv .venv && .venv/bin/pip install -e .)");
        }
        Path base = Files.createTempDirectory("christmas-engine-tests");
        Path localDir = base.resolve("christmas");
        Path catalogue = ROOT.resolve("examples/fast-catalogue.json");
        // The flows read their settings as {{ envs.<name> }}: Kestra takes them from ENV_<NAME> environment
        // variables and system properties alike (RunContextCache), so the fresh folder can be given here.
        Map<String, String> settings = Map.of(
            "ENV_CHRISTMAS_BACKEND", "local",
            "ENV_TESTING_MODE", "true",
            "ENV_CHRISTMAS_LOCAL_DIR", localDir.toString(),
            "ENV_CHRISTMAS_CATALOGUE", catalogue.toString(),
            // a resume spreads held emails one a second (not the default 36 s), so a test waits seconds
            "ENV_SEND_CAP", "3600",
            // the suite bounces addresses on purpose, tests side by side: the deliverability guard (its own tests are
            // tests/unit/test_guard.py) must not pause the shared engine's campaign under the others
            "ENV_GUARD_BOUNCE_CRITICAL", "100",
            "ENV_GUARD_COMPLAINT_CRITICAL", "100",
            "ENV_CHRISTMAS_CLI", CLI.toString());
        settings.forEach(System::setProperty);
        Engine engine = Engine.start(base.resolve("kestra"), "http://127.0.0.1:0/");
        new FlowLoader(engine).load(FLOWS);
        return new Funnel(engine, localDir, catalogue);
    }

    // ------------------------------------------------------------------ webhooks and executions

    /** The webhook key of a handler flow: the decoded {@code SECRET_WEBHOOK_KEY_<FLOW>} the pom sets. */
    static String key(String flow) {
        String name = "SECRET_WEBHOOK_KEY_" + flow.toUpperCase().replace('-', '_');
        String encoded = Optional.ofNullable(System.getenv(name))
            .orElseThrow(() -> new IllegalStateException(name + " is not set: run the suite with scripts/engine test, which"
                + " sets one webhook key per event kind"));
        return new String(Base64.getDecoder().decode(encoded), StandardCharsets.UTF_8);
    }

    /** Posts {@code body} to a handler's webhook with its key; the HTTP response. */
    HttpResponse<?> postRaw(String flow, String key, String body) throws Exception {
        String path = "/api/v1/main/executions/webhook/christmas/" + flow + "/" + key;
        return webhooks.receive("POST", URI.create("http://127.0.0.1" + path),
            Map.of("Content-Type", List.of("application/json")),
            body == null ? null : body.getBytes(StandardCharsets.UTF_8), "christmas", flow, key, null);
    }

    /** Posts {@code body} to a handler; the id of the execution it created. */
    String post(String flow, String body) throws Exception {
        HttpResponse<?> response = postRaw(flow, key(flow), body);
        if (response.getStatus().getCode() != 200 || !(response.getBody() instanceof WebhookResponse created)) {
            throw new AssertionError("webhook " + flow + " answered " + response.getStatus().getCode() + ": " + response.getBody());
        }
        return created.id();
    }

    /** Posts and waits for the handler execution to end; records the time it took when it succeeded. */
    Execution handle(String flow, String body) throws Exception {
        long started = System.nanoTime();
        Execution execution = engine.awaitTerminated(post(flow, body), HANDLER_TIMEOUT);
        if (execution.getState().getCurrent() == State.Type.SUCCESS) {
            handlerSeconds.add((System.nanoTime() - started) / 1e9);
        }
        return execution;
    }

    /** Starts a flow by hand, as the UI's Execute button does; its id. */
    String run(String flowId, Map<String, Object> inputs) throws Exception {
        return engine.start("christmas", flowId, inputs, Optional.empty()).getId();
    }

    Execution awaitEnd(String executionId) throws TimeoutException {
        return engine.awaitTerminated(executionId, SEND_TIMEOUT);
    }

    /**
     * What the package reported for one of a flow's steps: the {@code result} output of the {@code step} subflow that
     * task ran (empty when it has none, e.g. it failed).
     */
    @SuppressWarnings("unchecked")
    static Map<String, Object> result(Execution execution, String taskId) {
        return execution.getTaskRunList() == null ? Map.of() : execution.getTaskRunList().stream()
            .filter(run -> run.getTaskId().equals(taskId) && run.getOutputs() != null
                && run.getOutputs().get("outputs") instanceof Map<?, ?> outputs && outputs.get("result") instanceof Map)
            .map(run -> (Map<String, Object>) ((Map<String, Object>) run.getOutputs().get("outputs")).get("result"))
            .reduce((first, second) -> second)
            .orElse(Map.of());
    }

    static Map<String, State.Type> taskStates(Execution execution) {
        Map<String, State.Type> states = new TreeMap<>();
        if (execution.getTaskRunList() != null) {
            for (TaskRun run : execution.getTaskRunList()) {
                states.put(run.getTaskId(), run.getState().getCurrent());
            }
        }
        return states;
    }

    /** The executions an execution's Subflow tasks started, by task id (each task's {@code executionId} output). */
    static Map<String, String> children(Execution execution) {
        Map<String, String> children = new TreeMap<>();
        if (execution.getTaskRunList() != null) {
            for (TaskRun run : execution.getTaskRunList()) {
                if (run.getOutputs() != null && run.getOutputs().get("executionId") != null) {
                    children.put(run.getTaskId(), String.valueOf(run.getOutputs().get("executionId")));
                }
            }
        }
        return children;
    }

    /**
     * The send-email executions a handler scheduled, by email number: its handle-event's {@code schedule} task started
     * schedule-plan, whose loop started one send-email execution per planned email (read from Kestra's repository:
     * the executions whose Subflow trigger names that schedule-plan execution, the email number from their inputs).
     */
    Map<Integer, String> scheduledSends(Execution handler) throws TimeoutException {
        Map<Integer, String> sends = new TreeMap<>();
        String handleEvent = children(handler).get("handle");
        String plan = handleEvent == null ? null : children(awaitEnd(handleEvent)).get("schedule");
        if (plan == null) {
            return sends;
        }
        Execution scheduling = awaitEnd(plan);
        if (scheduling.getState().getCurrent() != State.Type.SUCCESS) {
            throw new AssertionError("schedule-plan " + plan + " ended " + scheduling.getState().getCurrent() + ": " + logs(plan));
        }
        for (Execution send : engine.bean(ExecutionRepositoryInterface.class)
            .findByFlowId(Engine.TENANT, "christmas", "send-email", Pageable.from(1, 5000))) {
            if (send.getTrigger() != null && send.getTrigger().getVariables() != null
                && plan.equals(send.getTrigger().getVariables().get("executionId"))) {
                Integer number = Integer.valueOf(String.valueOf(send.getInputs().get("email_number")));
                if (sends.put(number, send.getId()) != null) {
                    throw new AssertionError("schedule-plan " + plan + " scheduled email " + number + " twice");
                }
            }
        }
        return sends;
    }

    /** The execution of the {@code step} flow under an execution (a handler's runs under its handle-event). */
    Execution stepOf(Execution execution) throws TimeoutException {
        Execution current = execution;
        while (!current.getFlowId().equals("step")) {
            String child = children(current).values().stream().findFirst()
                .orElseThrow(() -> new AssertionError(execution.getFlowId() + " " + execution.getId() + " ran no step"));
            current = awaitEnd(child);
        }
        return current;
    }

    /** Waits for every send a handler scheduled to end; the ended executions by email number. */
    Map<Integer, Execution> awaitSends(Execution handler) throws TimeoutException {
        Map<Integer, Execution> ended = new TreeMap<>();
        for (Map.Entry<Integer, String> send : scheduledSends(handler).entrySet()) {
            ended.put(send.getKey(), awaitEnd(send.getValue()));
        }
        return ended;
    }

    List<String> logs(String executionId) {
        return engine.logs(executionId).stream().map(LogEntry::getMessage).toList();
    }

    /** The logs of an execution and of every execution its Subflow tasks ran, where a step logs its failure. */
    List<String> allLogs(Execution execution) throws TimeoutException {
        List<String> lines = new ArrayList<>(logs(execution.getId()));
        for (String child : children(execution).values()) {
            Execution ran = engine.awaitTerminated(child, SEND_TIMEOUT);
            if (!ran.getFlowId().equals("send-email") && !ran.getFlowId().equals("schedule-plan")) {
                lines.addAll(allLogs(ran));
            }
        }
        return lines;
    }

    // ------------------------------------------------------------------ what the local backends wrote

    static String newEmail(String tag) {
        return "engine-" + tag + "-" + UUID.randomUUID().toString().substring(0, 10) + "@example.com";
    }

    /** A sample webhook body of examples/events/, for another contact. */
    static String sample(String file, String email) throws IOException {
        String text = Files.readString(ROOT.resolve("examples/events").resolve(file), StandardCharsets.UTF_8);
        return text.replaceAll("(?i)jane\\.doe@example\\.com", email);
    }

    /** Every outbox index entry (one per message sent) addressed to {@code email}. */
    List<Map<String, Object>> outbox(String email) throws IOException {
        Path index = localDir.resolve("outbox/index.jsonl");
        List<Map<String, Object>> found = new ArrayList<>();
        if (!Files.exists(index)) {
            return found;
        }
        for (String line : Files.readAllLines(index, StandardCharsets.UTF_8)) {
            if (!line.isBlank() && line.contains(email)) {
                found.add(JSON.readValue(line, new TypeReference<Map<String, Object>>() { }));
            }
        }
        return found;
    }

    /** The email numbers of the messages sent to {@code email}, sorted. */
    List<Integer> outboxNumbers(String email) throws IOException {
        return outbox(email).stream()
            .map(m -> Integer.parseInt(String.valueOf(((Map<?, ?>) m.get("tags")).get("email_number"))))
            .sorted().toList();
    }

    List<Map<String, Object>> query(String sql, Object... params) throws SQLException {
        Path path = localDir.resolve("crm.sqlite3");
        List<Map<String, Object>> rows = new ArrayList<>();
        if (!Files.exists(path)) {
            return rows;
        }
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:file:" + path + "?mode=ro");
             PreparedStatement statement = db.prepareStatement(sql)) {
            statement.setQueryTimeout(30);
            for (int i = 0; i < params.length; i++) {
                statement.setObject(i + 1, params[i]);
            }
            try (ResultSet result = statement.executeQuery()) {
                ResultSetMetaData meta = result.getMetaData();
                while (result.next()) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    for (int c = 1; c <= meta.getColumnCount(); c++) {
                        row.put(meta.getColumnName(c), result.getObject(c));
                    }
                    rows.add(row);
                }
            }
        }
        return rows;
    }

    Optional<Map<String, Object>> contact(String email) throws SQLException {
        return query("SELECT * FROM contacts WHERE email = ?", email).stream().findFirst();
    }

    List<Map<String, Object>> sequences(String email) throws SQLException {
        return query("SELECT * FROM sequences WHERE email = ? ORDER BY id", email);
    }

    /** The ledger's sent emails of one sequence, by number. */
    Map<Integer, Map<String, Object>> sentEmails(String sequenceKey) throws SQLException {
        Map<Integer, Map<String, Object>> sent = new TreeMap<>();
        for (Map<String, Object> row : query("SELECT e.* FROM sequence_emails e JOIN sequences s ON s.id = e.sequence_id "
            + "WHERE s.key = ? AND e.sent_at IS NOT NULL ORDER BY e.number", sequenceKey)) {
            sent.put(((Number) row.get("number")).intValue(), row);
        }
        return sent;
    }

    long count(String table) throws SQLException {
        List<Map<String, Object>> rows = query("SELECT COUNT(*) AS n FROM " + table);
        return rows.isEmpty() ? 0 : ((Number) rows.get(0).get("n")).longValue();
    }

    /** Polls {@code probe} until it returns a non-empty value; AssertionError naming {@code what} otherwise. */
    static <T> T eventually(String what, Duration timeout, Supplier<Optional<T>> probe) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Optional<T> value = probe.get();
            if (value.isPresent()) {
                return value.get();
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": not seen after " + timeout.toSeconds() + " s");
            }
            Thread.sleep(250);
        }
    }
}
