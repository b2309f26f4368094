package christmas.engine;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.kestra.core.http.HttpResponse;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.flows.State;
import io.kestra.core.repositories.ExecutionRepositoryInterface;
import io.micronaut.data.model.Pageable;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The unsubscribe link of a sent email, followed as a mailbox provider does (RFC 8058: POST {@code
 * List-Unsubscribe=One-Click}) and as a person does (GET): the {@code unsubscribe-link} flow answers one line, the
 * contact is unsubscribed at once and the emails still to come are skipped with the reason in the ledger. A link whose
 * token is not the address's changes nothing. The link is read from the email's own {@code List-Unsubscribe} header
 * in the outbox.
 */
class UnsubscribeLinkTest {
    private static final Pattern HEADER = Pattern.compile("(?m)^List-Unsubscribe: <([^>]+)>");
    private static final String FLOW = "unsubscribe-link";

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"POST", "GET"})
    void theLinkUnsubscribesAtOnceAndTheNextEmailsAreSkipped(String method) throws Exception {
        Funnel funnel = Funnel.get();
        String email = Funnel.newEmail("link-" + method.toLowerCase());
        Execution nurture = funnel.handle("assessment", Funnel.sample("assessment.json", email));
        URI link = firstLink(funnel, email);

        HttpResponse<?> answer = open(funnel, method, link);
        assertThat(answer.getStatus().getCode()).isEqualTo(200);
        assertThat(answer.getHeaders().map().get("Content-Type")).containsExactly("text/plain");
        assertThat(answer.getBody()).isEqualTo("{\"response\":\"You are unsubscribed: Example Consulting will send no more"
            + " email to " + email + ".\"}");
        assertThat(funnel.contact(email).orElseThrow().get("email_status")).isEqualTo("unsubscribed");
        assertThat(funnel.sequences(email).get(0).get("stopped_reason")).isEqualTo("unsubscribed");

        HttpResponse<?> again = open(funnel, method, link);
        assertThat(again.getStatus().getCode()).as("a repeat").isEqualTo(200);
        assertThat(funnel.sequences(email).get(0).get("stopped_reason")).isEqualTo("unsubscribed");

        Map<Integer, Execution> sends = funnel.awaitSends(nurture);
        for (int number : List.of(3, 4, 5)) {
            assertThat(Funnel.result(sends.get(number), "send").get("status")).as("email %d", number).isEqualTo("skipped");
        }
        assertThat(funnel.outboxNumbers(email)).containsExactly(2);
        assertThat(funnel.query("SELECT error FROM analytics WHERE email = ? AND status = 'skipped'", email))
            .extracting(row -> row.get("error")).containsOnly("unsubscribed");
    }

    @Test
    void aLinkWithAnotherAddresssTokenATruncatedOneOrNoneChangesNothing() throws Exception {
        Funnel funnel = Funnel.get();
        String email = Funnel.newEmail("link-forged");
        String other = Funnel.newEmail("link-other");
        Execution nurture = funnel.handle("assessment", Funnel.sample("assessment.json", email));
        funnel.handle("assessment", Funnel.sample("assessment.json", other));
        URI link = firstLink(funnel, email);
        String token = query(link, "token");
        String othersToken = query(firstLink(funnel, other), "token");

        for (URI forged : List.of(withToken(link, othersToken), withToken(link, token.substring(1)), withToken(link, null))) {
            HttpResponse<?> answer = open(funnel, "POST", forged);
            assertThat(answer.getStatus().getCode()).as("%s", forged).isEqualTo(400);
            assertThat(String.valueOf(answer.getBody())).startsWith("{\"response\":\"Nothing was changed: ");
        }
        assertThat(funnel.contact(email).orElseThrow().get("email_status")).isEqualTo("ok");
        assertThat(funnel.sequences(email).get(0).get("stopped_reason")).isNull();
        Map<Integer, Execution> sends = funnel.awaitSends(nurture);
        assertThat(sends.values()).extracting(e -> Funnel.result(e, "send").get("status")).containsOnly("sent");
        List<Execution> refused = funnel.engine.bean(ExecutionRepositoryInterface.class)
            .findByFlowId(Engine.TENANT, "christmas", FLOW, Pageable.from(1, 200)).stream()
            .filter(e -> String.valueOf(e.getTrigger().getVariables().get("parameters")).contains(email)).toList();
        assertThat(refused).hasSizeGreaterThanOrEqualTo(3)
            .allSatisfy(e -> assertThat(e.getState().getCurrent()).isEqualTo(State.Type.FAILED));
    }

    /** The unsubscribe link of the first email sent to {@code email}, from its List-Unsubscribe header. */
    private static URI firstLink(Funnel funnel, String email) throws Exception {
        Map<String, Object> sent = Funnel.eventually("an email to " + email + " in the outbox", Duration.ofSeconds(60), () -> {
            try {
                return funnel.outbox(email).stream().findFirst();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        String eml = Files.readString(funnel.localDir.resolve("outbox").resolve(String.valueOf(sent.get("file"))),
            StandardCharsets.UTF_8);
        Matcher header = HEADER.matcher(eml);
        assertThat(header.find()).as("a List-Unsubscribe header").isTrue();
        URI link = URI.create(header.group(1));
        assertThat(link.getPath()).startsWith("/api/v1/main/executions/webhook/christmas/" + FLOW + "/");
        return link;
    }

    /** What a mailbox provider (POST, one-click) or a browser (GET) sends to the link. */
    private static HttpResponse<?> open(Funnel funnel, String method, URI link) throws Exception {
        String key = link.getPath().substring(link.getPath().lastIndexOf('/') + 1);
        boolean post = method.equals("POST");
        return funnel.webhooks.receive(method, URI.create("http://127.0.0.1" + link.getRawPath() + "?" + link.getRawQuery()),
            post ? Map.of("Content-Type", List.of("application/x-www-form-urlencoded")) : Map.of(),
            post ? "List-Unsubscribe=One-Click".getBytes(StandardCharsets.UTF_8) : null,
            "christmas", FLOW, key, null);
    }

    private static String query(URI link, String name) {
        for (String pair : link.getRawQuery().split("&")) {
            if (pair.startsWith(name + "=")) {
                return java.net.URLDecoder.decode(pair.substring(name.length() + 1), StandardCharsets.UTF_8);
            }
        }
        throw new AssertionError(link + " has no " + name);
    }

    private static URI withToken(URI link, String token) {
        String email = java.net.URLEncoder.encode(query(link, "email"), StandardCharsets.UTF_8);
        String rest = token == null ? "" : "&token=" + java.net.URLEncoder.encode(token, StandardCharsets.UTF_8);
        return URI.create(link.getScheme() + "://" + link.getRawAuthority() + link.getRawPath() + "?email=" + email + rest);
    }
}
