package christmas.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.kestra.core.models.flows.FlowSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** flows/ through Kestra's own validation (FlowService.validate), and a broken copy refused with Kestra's message. */
class FlowValidationTest {

    @Test
    void everyFlowPassesKestrasValidation() throws Exception {
        Funnel funnel = Funnel.get();
        List<FlowSource> sources = FlowLoader.read(Funnel.FLOWS);
        assertThat(sources).extracting(FlowSource::filename)
            .contains("assessment.yml", "send-email.yml", "health-check.yml", "step.yml");
        assertThat(new FlowLoader(funnel.engine).problems(sources)).isEmpty();
    }

    @Test
    void aBrokenCopyFailsWithKestrasMessageAndNothingIsLoaded(@TempDir Path folder) throws Exception {
        Funnel funnel = Funnel.get();
        String step = Files.readString(Funnel.FLOWS.resolve("step.yml"));
        // an unknown property of the Python task, and a task type no plugin provides
        Files.writeString(folder.resolve("step.yml"),
            step.replace("id: step\n", "id: broken-step\n").replace("packageManager: PIP", "packageManagr: PIP"));
        Files.writeString(folder.resolve("typo.yml"), """
            id: typo
            namespace: christmas
            tasks:
              - id: hello
                type: io.kestra.plugin.core.log.Logg
                message: hi
            """);

        List<String> problems = new FlowLoader(funnel.engine).problems(FlowLoader.read(folder));
        assertThat(problems).hasSize(2);
        assertThat(problems.get(0)).startsWith("step.yml: ").contains("packageManagr");
        assertThat(problems.get(1)).startsWith("typo.yml: ").contains("io.kestra.plugin.core.log.Logg");

        assertThatThrownBy(() -> new FlowLoader(funnel.engine).load(folder))
            .isInstanceOf(FlowLoader.InvalidFlowsException.class)
            .hasMessageContaining("none loaded");
        assertThat(funnel.engine.bean(io.kestra.core.repositories.FlowRepositoryInterface.class)
            .findById(Engine.TENANT, "christmas", "broken-step")).isEmpty();
    }

    @Test
    void theStandInAnswersToTheRealPythonTaskType() throws Exception {
        Funnel funnel = Funnel.get();
        var flow = funnel.engine.bean(io.kestra.core.repositories.FlowRepositoryInterface.class)
            .findById(Engine.TENANT, "christmas", "step").orElseThrow();
        assertThat(flow.getTasks().get(0)).isInstanceOf(PythonCommands.class);
        assertThat(flow.getTasks().get(0).getType()).isEqualTo("io.kestra.plugin.scripts.python.Commands");
    }
}
