package christmas.engine;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.kestra.core.exceptions.IllegalVariableEvaluationException;
import io.kestra.core.http.HttpRequest;
import io.kestra.core.http.HttpResponse;
import io.kestra.core.models.flows.Flow;
import io.kestra.core.models.flows.FlowWithException;
import io.kestra.core.repositories.FlowRepositoryInterface;
import io.kestra.core.runners.RunContextFactory;
import io.kestra.core.services.WebhookService;
import io.kestra.plugin.core.trigger.AbstractWebhookTrigger;
import io.kestra.plugin.core.trigger.WebhookContext;

import java.net.http.HttpHeaders;

/**
 * STAND-IN for the webserver's webhook endpoint ({@code /api/v1/main/executions/webhook/{namespace}/{flowId}/{key}}),
 * whose module Maven Central does not serve. It does what Kestra's controller does, with Kestra's own classes:
 * find the flow, pick the enabled {@link AbstractWebhookTrigger} whose key, rendered with the flow's run context,
 * equals the URL's key, wrap the request in Kestra's {@link HttpRequest} (the body as a string, the headers, the URI
 * with its query) and let the trigger's own {@code evaluate} build the execution through Kestra's
 * {@link WebhookService}. So {@code trigger.body}, {@code trigger.headers} and {@code trigger.parameters}, the
 * conditions, {@code wait}/{@code returnOutputs} and the response are Kestra's.
 *
 * <p>Limits: no authentication layer (the real server's basic auth leaves this path open too); header names arrive
 * as the JDK's HTTP server spells them (first letter upper case); one tenant, {@code main}.
 */
public final class Webhooks {
    /** As long as the real server lets a {@code wait: true} webhook hold the request. */
    private static final Duration WAIT_LIMIT = Duration.ofMinutes(5);

    private final FlowRepositoryInterface flows;
    private final RunContextFactory runContexts;
    private final WebhookService webhookService;

    public Webhooks(Engine engine) {
        this.flows = engine.bean(FlowRepositoryInterface.class);
        this.runContexts = engine.bean(RunContextFactory.class);
        this.webhookService = engine.bean(WebhookService.class);
    }

    /**
     * One webhook request.
     *
     * @param path what follows the key in the URL (null when nothing does): Kestra's Webhook trigger refuses it
     * @param body the request's bytes, null or empty when it had none
     */
    public HttpResponse<?> receive(String method, URI uri, Map<String, List<String>> headers, byte[] body,
                                   String namespace, String flowId, String key, String path) throws Exception {
        Optional<Flow> found = flows.findById(Engine.TENANT, namespace, flowId);
        if (found.isEmpty()) {
            return error(HttpResponse.Status.NOT_FOUND, "Flow not found");
        }
        Flow flow = found.get();
        if (flow instanceof FlowWithException invalid) {
            return error(HttpResponse.Status.CONFLICT, "Cannot execute an invalid flow: " + invalid.getException());
        }
        if (flow.isDisabled()) {
            return error(HttpResponse.Status.CONFLICT, "Cannot execute a disabled flow");
        }
        Optional<AbstractWebhookTrigger> trigger = matchingTrigger(flow, key);
        if (trigger.isEmpty()) {
            return error(HttpResponse.Status.NOT_FOUND, "Webhook not found");
        }

        HttpRequest request = HttpRequest.builder()
            .method(method)
            .uri(uri)
            .headers(HttpHeaders.of(headers, (name, value) -> true))
            .body(body == null || body.length == 0 ? null
                : HttpRequest.StringRequestBody.of(new String(body, StandardCharsets.UTF_8)))
            .build();
        WebhookContext context = WebhookContext.builder()
            .request(request)
            .path(path)
            .flow(flow)
            .trigger(trigger.get())
            .webhookService(webhookService)
            .build();
        HttpResponse<?> response = trigger.get().evaluate(context).block(WAIT_LIMIT);
        return response != null ? response : HttpResponse.of(HttpResponse.Status.NO_CONTENT);
    }

    /** The flow's enabled webhook trigger whose rendered key is {@code key}. */
    private Optional<AbstractWebhookTrigger> matchingTrigger(Flow flow, String key) {
        if (flow.getTriggers() == null) {
            return Optional.empty();
        }
        return flow.getTriggers().stream()
            .filter(t -> t instanceof AbstractWebhookTrigger && !t.isDisabled())
            .map(t -> (AbstractWebhookTrigger) t)
            .filter(t -> renderedKey(flow, t).map(key::equals).orElse(false))
            .findFirst();
    }

    /** The trigger's key as the controller renders it; empty when it cannot be rendered (a missing secret). */
    public Optional<String> renderedKey(Flow flow, AbstractWebhookTrigger trigger) {
        try {
            return Optional.of(runContexts.of(flow, trigger).render(trigger.getKey()).trim());
        } catch (IllegalVariableEvaluationException e) {
            return Optional.empty();
        }
    }

    private static HttpResponse<?> error(HttpResponse.Status status, String message) {
        return HttpResponse.of(status, Map.of("message", message));
    }
}
