package christmas.engine;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import io.kestra.core.models.flows.FlowSource;
import io.kestra.core.models.flows.FlowWithSource;
import io.kestra.core.models.validations.ValidateConstraintViolation;
import io.kestra.core.services.FlowService;

/**
 * Loads a folder of flows into the engine, each through Kestra's own validation ({@link FlowService#validate}, what
 * the API's validate endpoint and the UI's editor call) and then {@link FlowService#importFlow}, as a deploy does.
 *
 * <p>Kestra's {@code LocalFlowRepositoryLoader} is not used: it skips an invalid flow with a WARN line only, so a
 * broken flow would leave the engine running without it. Here, any invalid file stops the load, and nothing is
 * loaded: {@link InvalidFlowsException} names each file with Kestra's message.
 */
public final class FlowLoader {
    private final FlowService flowService;

    public FlowLoader(Engine engine) {
        this.flowService = engine.bean(FlowService.class);
    }

    /** Every {@code *.yml} of {@code folder}, sorted by name, read as UTF-8. */
    public static List<FlowSource> read(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) {
            throw new IOException("flows folder " + folder + " does not exist");
        }
        List<FlowSource> sources = new ArrayList<>();
        try (Stream<Path> files = Files.list(folder)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".yml")).sorted().toList()) {
                sources.add(new FlowSource(file.getFileName().toString(), Files.readString(file, StandardCharsets.UTF_8)));
            }
        }
        if (sources.isEmpty()) {
            throw new IOException("no flow (*.yml) in " + folder);
        }
        return sources;
    }

    /** Kestra's validation of each source; an empty list when every one is valid. */
    public List<String> problems(List<FlowSource> sources) {
        return flowService.validate(Engine.TENANT, sources).stream()
            .filter(v -> v.getConstraints() != null && !v.getConstraints().isBlank())
            .map(FlowLoader::describe)
            .toList();
    }

    /** Validates every flow of {@code folder}, then imports them all (created, or updated when they exist). */
    public List<FlowWithSource> load(Path folder) throws IOException, InvalidFlowsException {
        List<FlowSource> sources = read(folder);
        List<String> problems = problems(sources);
        if (!problems.isEmpty()) {
            throw new InvalidFlowsException(folder, problems);
        }
        List<FlowWithSource> loaded = new ArrayList<>();
        for (FlowSource source : sources) {
            try {
                loaded.add(flowService.importFlow(Engine.TENANT, source.content()));
            } catch (Exception e) {
                throw new InvalidFlowsException(folder, List.of(source.filename() + ": " + e.getMessage()));
            }
        }
        return loaded;
    }

    private static String describe(ValidateConstraintViolation violation) {
        return violation.getFilename() + ": " + violation.getConstraints().strip();
    }

    public static final class InvalidFlowsException extends Exception {
        private final List<String> problems;

        InvalidFlowsException(Path folder, List<String> problems) {
            super("invalid flows in " + folder + ", none loaded:\n  " + String.join("\n  ", problems));
            this.problems = List.copyOf(problems);
        }

        public List<String> problems() {
            return problems;
        }
    }
}
