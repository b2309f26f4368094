package christmas.engine;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.kestra.core.exceptions.IllegalVariableEvaluationException;
import io.kestra.core.exceptions.KestraRuntimeException;
import io.kestra.core.models.annotations.Plugin;
import io.kestra.core.models.annotations.PluginProperty;
import io.kestra.core.models.property.Property;
import io.kestra.core.models.tasks.RunnableTask;
import io.kestra.core.models.tasks.runners.TargetOS;
import io.kestra.core.runners.RunContext;
import io.kestra.plugin.core.runner.Process;
import io.kestra.plugin.scripts.exec.AbstractExecScript;
import io.kestra.plugin.scripts.exec.scripts.models.ScriptOutput;
import io.kestra.plugin.scripts.exec.scripts.runners.CommandsWrapper;

import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.constraints.NotNull;

/**
 * STAND-IN for {@code io.kestra.plugin.scripts.python.Commands} (plugin-script-python 1.9.7), which Maven Central
 * does not serve here. Registered under that exact type through {@code @Plugin(aliases)}, so flows/ load unchanged.
 *
 * <p>What is the real plugin's: the properties, with its names, types and defaults ({@code commands} required,
 * {@code containerImage}, {@code dependencies}, {@code pythonVersion}, {@code dependencyCacheEnabled},
 * {@code packageManager} UV|PIP, {@code uvAutoInstallEnabled}, {@code uvInstallerVersion}, {@code uvInstallerSha256},
 * and everything of Kestra's {@link AbstractExecScript}: {@code env}, {@code inputFiles}, {@code outputFiles},
 * {@code beforeCommands}, {@code interpreter}, {@code taskRunner}, {@code timeout}, ...), the three environment
 * variables the real task adds, and the run itself: Kestra's own {@link CommandsWrapper} with the task runner, so
 * rendering of {@code env} and {@code inputFiles}, the {@code ::{"outputs":...}::} protocol, logs, exit codes,
 * timeouts and retries are Kestra's code paths.
 *
 * <p>Its limits, on purpose: it installs no dependencies (a non-empty {@code dependencies} fails the task: the real
 * plugin would pip/uv-install them, this project's image has the package pre-installed instead); it runs only on the
 * {@code Process} task runner (the Docker runner needs a Docker engine); it never downloads {@code uv} and picks no
 * managed interpreter ({@code pythonVersion} is accepted and ignored: the commands choose their interpreter, as
 * every flow of this project does through the christmas-tasks command). Dependency caching is therefore moot.
 */
@Schema(title = "Stand-in for the Python Commands task (plugin-script-python 1.9.7): Process runner, no dependency install.")
@Plugin(aliases = "io.kestra.plugin.scripts.python.Commands")
public class PythonCommands extends AbstractExecScript implements RunnableTask<ScriptOutput> {
    static final String DEFAULT_IMAGE = "python:3.13-slim";

    /** As the real plugin's {@code PackageManagerType}. */
    public enum PackageManager { UV, PIP }

    // Plain fields and getters (no lombok): Jackson fills the fields through the getters' properties, as it
    // does for Kestra's own tasks, and the module then compiles with the Eclipse compiler too.
    @PluginProperty(group = "execution")
    protected Property<String> containerImage = Property.ofValue(DEFAULT_IMAGE);

    protected Property<List<String>> dependencies;

    protected Property<String> pythonVersion;

    protected Property<Boolean> dependencyCacheEnabled = Property.ofValue(true);

    protected Property<PackageManager> packageManager = Property.ofValue(PackageManager.UV);

    protected Property<Boolean> uvAutoInstallEnabled = Property.ofValue(true);

    protected Property<String> uvInstallerVersion;

    protected Property<String> uvInstallerSha256;

    @NotNull
    @PluginProperty(group = "main")
    protected Property<List<String>> commands;

    @Override
    public Property<String> getContainerImage() {
        return containerImage;
    }

    public Property<List<String>> getDependencies() {
        return dependencies;
    }

    public Property<String> getPythonVersion() {
        return pythonVersion;
    }

    public Property<Boolean> getDependencyCacheEnabled() {
        return dependencyCacheEnabled;
    }

    public Property<PackageManager> getPackageManager() {
        return packageManager;
    }

    public Property<Boolean> getUvAutoInstallEnabled() {
        return uvAutoInstallEnabled;
    }

    public Property<String> getUvInstallerVersion() {
        return uvInstallerVersion;
    }

    public Property<String> getUvInstallerSha256() {
        return uvInstallerSha256;
    }

    public Property<List<String>> getCommands() {
        return commands;
    }

    @Override
    public ScriptOutput run(RunContext runContext) throws Exception {
        refuseWhatTheStandInCannotDo(runContext);
        TargetOS os = runContext.render(this.targetOS).as(TargetOS.class).orElse(null);
        CommandsWrapper commandsWrapper = this.commands(runContext);

        // The same three variables the real task sets for every Python step.
        Map<String, String> env = new HashMap<>();
        env.put("PYTHONUNBUFFERED", "true");
        env.put("PIP_ROOT_USER_ACTION", "ignore");
        env.put("PIP_DISABLE_PIP_VERSION_CHECK", "1");

        return commandsWrapper
            .addEnv(env)
            .withInterpreter(this.interpreter)
            .withCommands(this.commands)
            .withBeforeCommands(this.beforeCommands)
            .withBeforeCommandsWithOptions(true)
            .withTargetOS(os)
            .run();
    }

    private void refuseWhatTheStandInCannotDo(RunContext runContext) throws IllegalVariableEvaluationException {
        List<String> requirements = runContext.render(this.dependencies).asList(String.class);
        if (!requirements.isEmpty()) {
            throw new KestraRuntimeException("the stand-in Python task installs no dependencies (asked for "
                + requirements + "): pre-install them, as the project's image does");
        }
        if (!(this.getTaskRunner() instanceof Process)) {
            throw new KestraRuntimeException("the stand-in Python task runs only on the Process task runner "
                + "(taskRunner: {type: io.kestra.plugin.core.runner.Process}); got "
                + (this.getTaskRunner() == null ? "none (the real plugin's default is Docker)" : this.getTaskRunner().getType()));
        }
    }
}
