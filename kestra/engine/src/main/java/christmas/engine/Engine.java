package christmas.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Predicate;

import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.executions.LogEntry;
import io.kestra.core.models.flows.Flow;
import io.kestra.core.queues.QueueException;
import io.kestra.core.queues.QueueFactoryInterface;
import io.kestra.core.queues.QueueInterface;
import io.kestra.core.repositories.ExecutionRepositoryInterface;
import io.kestra.core.repositories.FlowRepositoryInterface;
import io.kestra.core.runners.FlowInputOutput;
import io.kestra.core.repositories.LogRepositoryInterface;
import io.kestra.core.runners.ExecutorInterface;
import io.kestra.core.runners.Indexer;
import io.kestra.core.runners.Scheduler;
import io.kestra.core.server.Service;
import io.kestra.core.tenant.TenantService;
import io.kestra.core.utils.Await;
import io.kestra.worker.DefaultWorker;

import io.micronaut.context.ApplicationContext;
import io.micronaut.inject.qualifiers.Qualifiers;
import org.slf4j.event.Level;

/**
 * Kestra's engine in this JVM: the executor, a worker, the scheduler and the indexer, on the H2 queue and repository
 * and local storage in one fresh folder, as Kestra's standalone server runs them (minus the webserver, see
 * {@link Webhooks}). Both the launcher (scripts/run) and the engine tests start it here, so the tests prove the
 * launcher's configuration.
 */
public final class Engine implements AutoCloseable {
    public static final String TENANT = TenantService.MAIN_TENANT;
    private static final Duration START_TIMEOUT = Duration.ofMinutes(1);

    private final ApplicationContext context;
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread thread = new Thread(r, "engine-service");
        thread.setDaemon(true);
        return thread;
    });
    private final List<Service> services = new ArrayList<>();
    private final List<Runnable> subscriptions = new ArrayList<>();
    private final Path home;

    private Engine(ApplicationContext context, Path home) {
        this.context = context;
        this.home = home;
    }

    /**
     * The configuration of a Kestra server, reduced to what the engine reads. Each key was checked by removing it:
     * without {@code kestra.server-type: STANDALONE} every {@code errors} branch fails ("errorLogs can only be used in
     * the Worker"), and that server type then needs the {@code purge} settings.
     *
     * @param home      a fresh folder: the H2 database, internal storage and the tasks' working folders
     * @param publicUrl the URL the webhook endpoint answers on ({@code kestra.url}: execution links in responses)
     */
    static Map<String, Object> properties(Path home, String publicUrl) {
        Map<String, Object> p = new HashMap<>();
        p.put("datasources.h2.url", "jdbc:h2:file:" + home.resolve("h2/kestra").toAbsolutePath()
            + ";TIME ZONE=UTC;DB_CLOSE_DELAY=-1;DB_CLOSE_ON_EXIT=FALSE");
        p.put("datasources.h2.username", "sa");
        p.put("datasources.h2.password", "");
        p.put("datasources.h2.driver-class-name", "org.h2.Driver");
        p.put("flyway.datasources.h2.enabled", true);
        p.put("flyway.datasources.h2.locations", List.of("classpath:migrations/h2"));
        p.put("kestra.repository.type", "h2");
        p.put("kestra.queue.type", "h2");
        p.put("kestra.storage.type", "local");
        p.put("kestra.storage.local.base-path", home.resolve("storage").toAbsolutePath().toString());
        p.put("kestra.tasks.tmp-dir.path", home.resolve("tmp").toAbsolutePath().toString());
        p.put("kestra.server-type", "STANDALONE");
        p.put("kestra.server.service.purge.initial-delay", "PT1H");
        p.put("kestra.server.service.purge.fixed-delay", "PT1H");
        p.put("kestra.server.service.purge.retention", "P7D");
        p.put("kestra.anonymous-usage-report.enabled", false);
        p.put("kestra.url", publicUrl);
        // Kestra's default prefix, set explicitly: flows read settings as {{ envs.<name> }} from ENV_<NAME>.
        p.put("kestra.variables.env-vars-prefix", "ENV_");
        // The queues poll H2 every 25 ms until 60 s without a message (Kestra's default), then back off: after 5 s
        // here. A local engine mostly waits (for the next webhook, a scheduled send); measured, an idle engine uses
        // 7 % of a core instead of 15 %, and a webhook is still handled in 0.7 s (benchmarks/engine.py).
        p.put("kestra.jdbc.queues.poll-switch-interval", "PT5S");
        return p;
    }

    /** Starts the engine in {@code home} (created when missing) and waits until every service runs. */
    public static Engine start(Path home, String publicUrl) throws Exception {
        Files.createDirectories(home);
        ApplicationContext context = ApplicationContext.builder()
            .deduceEnvironment(false)
            .environments("engine")
            .banner(false)
            .properties(properties(home, publicUrl))
            .start();
        Engine engine = new Engine(context, home);
        try {
            engine.startServices();
        } catch (Exception | Error e) {
            engine.close();
            throw e;
        }
        return engine;
    }

    private void startServices() throws TimeoutException {
        ExecutorInterface executor = context.getBean(ExecutorInterface.class);
        services.add(executor);
        pool.execute(executor);

        int threads = Math.max(4, Runtime.getRuntime().availableProcessors() * 4);
        DefaultWorker worker = context.createBean(DefaultWorker.class, UUID.randomUUID().toString(), threads, null);
        context.registerSingleton(worker);
        services.add(worker);
        pool.execute(worker);

        Scheduler scheduler = context.getBean(Scheduler.class);
        services.add(scheduler);
        pool.execute(scheduler);

        Indexer indexer = context.getBean(Indexer.class);
        services.add(indexer);
        pool.execute(indexer);

        Await.until(() -> services.stream().allMatch(s -> s.getState() == null || s.getState().isRunning()),
            Duration.ofMillis(50), START_TIMEOUT);
    }

    public ApplicationContext context() {
        return context;
    }

    public Path home() {
        return home;
    }

    public <T> T bean(Class<T> type) {
        return context.getBean(type);
    }

    public Optional<Execution> execution(String id) {
        return bean(ExecutionRepositoryInterface.class).findById(TENANT, id);
    }

    /** Waits until the execution exists and matches {@code done}; TimeoutException names its last state. */
    public Execution awaitExecution(String id, Predicate<Execution> done, Duration timeout) throws TimeoutException {
        try {
            return Await.until(() -> execution(id).filter(done).orElse(null), Duration.ofMillis(100), timeout);
        } catch (TimeoutException e) {
            String state = execution(id).map(x -> x.getState().getCurrent().name()).orElse("not created");
            throw new TimeoutException("execution " + id + " still " + state + " after " + timeout.toSeconds() + " s");
        }
    }

    public Execution awaitTerminated(String id, Duration timeout) throws TimeoutException {
        return awaitExecution(id, x -> x.getState().isTerminated(), timeout);
    }

    /**
     * Starts a flow as the API's execute endpoint and the UI's Execute button do: its inputs read by Kestra's
     * {@link FlowInputOutput} (so they are checked and typed as declared), then queued; with a date, scheduled.
     *
     * @throws java.util.NoSuchElementException naming the flow when there is none; Kestra's own exception for bad inputs
     */
    @SuppressWarnings("unchecked")
    public Execution start(String namespace, String flowId, Map<String, Object> inputs, Optional<ZonedDateTime> scheduleDate)
        throws QueueException {
        Flow flow = bean(FlowRepositoryInterface.class).findById(TENANT, namespace, flowId)
            .orElseThrow(() -> new java.util.NoSuchElementException("Flow not found: " + namespace + "." + flowId));
        FlowInputOutput flowInputs = bean(FlowInputOutput.class);
        Execution execution = Execution.newExecution(flow, (f, e) -> flowInputs.readExecutionInputs(f, e, inputs),
            List.of(), scheduleDate);
        QueueInterface<Execution> queue = context.getBean(QueueInterface.class,
            Qualifiers.byName(QueueFactoryInterface.EXECUTION_NAMED));
        queue.emit(execution);
        return execution;
    }

    public List<LogEntry> logs(String executionId) {
        return bean(LogRepositoryInterface.class).findByExecutionId(TENANT, executionId, Level.TRACE);
    }

    /** Every execution message the executor emits (each state change), as the webserver's live view receives them. */
    @SuppressWarnings("unchecked")
    public void onExecution(Consumer<Execution> consumer) {
        QueueInterface<Execution> queue = context.getBean(QueueInterface.class,
            Qualifiers.byName(QueueFactoryInterface.EXECUTION_NAMED));
        subscriptions.add(queue.receive(either -> {
            if (either.isLeft()) {
                consumer.accept(either.getLeft());
            }
        }));
    }

    @Override
    public void close() {
        subscriptions.forEach(Runnable::run);
        pool.shutdownNow();
        if (context.isRunning()) {
            context.close();
        }
    }
}
