package christmas.engine;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.flows.State;

import static org.assertj.core.api.Assertions.assertThat;

/** What Kestra must never do to a value from outside, and what a Python step must never see. */
class HardeningTest {

    /**
     * Kestra renders a task's {@code env} twice (the task, then its runner): an address with template syntax in it
     * (valid: RFC 5322 allows braces, '%' and '#') must reach the package as it was sent, and get all its emails.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"{{7*7}}", "{%x}}", "{#x"})
    void anAddressWithTemplateSyntaxGetsAllItsEmails(String prefix) throws Exception {
        Funnel funnel = Funnel.get();
        String email = prefix + "-" + UUID.randomUUID().toString().substring(0, 8) + "@example.com";
        Execution handler = funnel.handle("noshow", Funnel.sample("noshow.json", email));
        assertThat(handler.getState().getCurrent()).as("%s", funnel.logs(handler.getId())).isEqualTo(State.Type.SUCCESS);

        Map<Integer, Execution> sends = funnel.awaitSends(handler);
        assertThat(sends.keySet()).containsExactly(1, 2, 3);
        for (Execution send : sends.values()) {
            assertThat(send.getState().getCurrent()).as("%s", funnel.logs(send.getId())).isEqualTo(State.Type.SUCCESS);
            assertThat(Funnel.result(send, "send").get("status")).as("%s", Funnel.result(send, "send")).isEqualTo("sent");
        }
        assertThat(funnel.outboxNumbers(email)).containsExactly(1, 2, 3);
        assertThat(funnel.contact(email)).as("the contact, under the address as sent").isPresent();
    }

    /** The Process runner starts from the server's environment; the package's step must see none of it. */
    @Test
    void aStepSeesOnlyWhatThePackageNeeds() throws Exception {
        Funnel funnel = Funnel.get();
        Execution health = funnel.awaitEnd(funnel.run("health-check", Map.of()));
        assertThat(health.getState().getCurrent()).as("%s", funnel.logs(health.getId())).isEqualTo(State.Type.SUCCESS);

        @SuppressWarnings("unchecked")
        List<String> names = (List<String>) Funnel.result(health, "health").get("environment");
        assertThat(names).as("the step's environment variables").isNotNull();
        // the test JVM holds the server's SECRET_* variables (pom.xml) and its settings: none may reach the step
        assertThat(System.getenv().keySet()).anyMatch(name -> name.startsWith("SECRET_"))
            .contains("CHRISTMAS_KESTRA_DB_PASSWORD");
        assertThat(names).noneMatch(name -> name.startsWith("SECRET_") || name.startsWith("ENV_")
            || name.startsWith("KESTRA_") || name.startsWith("JAVA") || name.startsWith("MAVEN"));
        assertThat(Set.copyOf(names)).isSubsetOf("PATH", "HOME", "LANG", "TZ");
    }
}
