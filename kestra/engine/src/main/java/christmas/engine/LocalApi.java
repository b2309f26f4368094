package christmas.engine;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.time.ZonedDateTime;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import io.kestra.core.http.HttpResponse;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.flows.FlowWithSource;
import io.kestra.core.repositories.ArrayListTotal;
import io.kestra.core.repositories.ExecutionRepositoryInterface;
import io.kestra.core.repositories.FlowRepositoryInterface;
import io.kestra.core.serializers.JacksonMapper;

import io.micronaut.data.model.Pageable;
import io.micronaut.data.model.Sort;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * STAND-IN for the part of Kestra's webserver the local funnel needs, at Kestra's own URL scheme, on loopback:
 * <ul>
 * <li>{@code GET|POST|PUT /api/v1/main/executions/webhook/{namespace}/{flowId}/{key}}: {@link Webhooks};</li>
 * <li>{@code POST /api/v1/main/executions/{namespace}/{flowId}[?scheduleDate=ISO]}: start (or schedule) an execution,
 * its inputs as {@code multipart/form-data} text fields, as Kestra's API takes them (no file inputs);</li>
 * <li>{@code GET /api/v1/main/executions/{id}}: the execution, serialised by Kestra's own JSON mapper;</li>
 * <li>{@code GET /api/v1/main/executions/{id}/file?path=kestra:///...}: one of its files (an output file), as Kestra's
 * own endpoint serves it (an attachment); a file of another execution (a subflow's) redirects there, as Kestra does;</li>
 * <li>{@code GET /api/v1/main/executions?namespace=&flowId=&page=&size=}: one flow's executions, newest first,
 * as {@code {"results": [...], "total": n}};</li>
 * <li>{@code GET /api/v1/main/logs/{executionId}}: its log lines;</li>
 * <li>{@code GET /api/v1/main/flows/{namespace}/{id}}: the flow, with its {@code source}.</li>
 * </ul>
 * Nothing else of the real API or UI is served (404 naming what is served). No authentication: it binds to 127.0.0.1.
 */
public final class LocalApi implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LocalApi.class);
    private static final String PREFIX = "/api/v1/" + Engine.TENANT + "/";
    private static final Pattern WEBHOOK = Pattern.compile("executions/webhook/([^/]+)/([^/]+)/([^/]+)(?:/(.*))?");
    private static final Pattern EXECUTION = Pattern.compile("executions/([A-Za-z0-9_-]+)");
    private static final Pattern START = Pattern.compile("executions/([^/]+)/([^/]+)");
    private static final Pattern LOGS = Pattern.compile("logs/([A-Za-z0-9_-]+)");
    private static final Pattern FILE = Pattern.compile("executions/([A-Za-z0-9_-]+)/file");
    private static final Pattern FLOW = Pattern.compile("flows/([^/]+)/([^/]+)");
    private static final int MAX_BODY = 10 * 1024 * 1024;

    private final Engine engine;
    private final Webhooks webhooks;
    private final HttpServer server;
    private final ExecutorService threads = Executors.newFixedThreadPool(8);
    private final ObjectMapper json = JacksonMapper.ofJson();

    public LocalApi(Engine engine, int port) throws IOException {
        this.engine = engine;
        this.webhooks = new Webhooks(engine);
        this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 64);
        this.server.createContext("/", this::handle);
        this.server.setExecutor(threads);
        this.server.start();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + port();
    }

    public String webhookUrl(String namespace, String flowId, String key) {
        return baseUrl() + PREFIX + "executions/webhook/" + namespace + "/" + flowId + "/" + key;
    }

    private void handle(HttpExchange exchange) throws IOException {
        // not try-with-resources: the exchange must stay open for the error replies of the catch blocks
        try {
            String path = exchange.getRequestURI().getRawPath();
            String method = exchange.getRequestMethod();
            if (!path.startsWith(PREFIX)) {
                reply(exchange, HttpResponse.Status.NOT_FOUND, notServed());
                return;
            }
            String rest = path.substring(PREFIX.length());
            Matcher m;
            if ((m = WEBHOOK.matcher(rest)).matches() && List.of("GET", "POST", "PUT").contains(method)) {
                byte[] body = readBody(exchange);
                if (body == null) {
                    reply(exchange, HttpResponse.Status.REQUEST_ENTITY_TOO_LARGE, Map.of("message", "body over 10 MB"));
                    return;
                }
                HttpResponse<?> response = webhooks.receive(method, requestUri(exchange),
                    exchange.getRequestHeaders(), body, decode(m.group(1)), decode(m.group(2)), decode(m.group(3)),
                    m.group(4) == null ? null : decode(m.group(4)));
                reply(exchange, response);
            } else if ((m = START.matcher(rest)).matches() && method.equals("POST")) {
                byte[] body = readBody(exchange);
                if (body == null) {
                    reply(exchange, HttpResponse.Status.REQUEST_ENTITY_TOO_LARGE, Map.of("message", "body over 10 MB"));
                    return;
                }
                String schedule = query(exchange.getRequestURI()).get("scheduleDate");
                Execution started = engine.start(decode(m.group(1)), decode(m.group(2)),
                    formFields(exchange.getRequestHeaders().getFirst("Content-Type"), body),
                    Optional.ofNullable(schedule).map(ZonedDateTime::parse));
                reply(exchange, HttpResponse.Status.OK, started);
            } else if ((m = FILE.matcher(rest)).matches() && method.equals("GET")) {
                file(exchange, m.group(1), query(exchange.getRequestURI()).get("path"));
            } else if ((m = EXECUTION.matcher(rest)).matches() && method.equals("GET")) {
                Optional<Execution> execution = engine.execution(m.group(1));
                reply(exchange, execution.isPresent() ? HttpResponse.Status.OK : HttpResponse.Status.NOT_FOUND,
                    execution.isPresent() ? execution.get() : Map.of("message", "Execution not found"));
            } else if (rest.equals("executions") && method.equals("GET")) {
                reply(exchange, HttpResponse.Status.OK, executions(exchange.getRequestURI()));
            } else if ((m = LOGS.matcher(rest)).matches() && method.equals("GET")) {
                reply(exchange, HttpResponse.Status.OK, engine.logs(m.group(1)));
            } else if ((m = FLOW.matcher(rest)).matches() && method.equals("GET")) {
                Optional<FlowWithSource> flow = engine.bean(FlowRepositoryInterface.class)
                    .findByIdWithSource(Engine.TENANT, decode(m.group(1)), decode(m.group(2)));
                reply(exchange, flow.isPresent() ? HttpResponse.Status.OK : HttpResponse.Status.NOT_FOUND,
                    flow.isPresent() ? flow.get() : Map.of("message", "Flow not found"));
            } else {
                reply(exchange, HttpResponse.Status.NOT_FOUND, notServed());
            }
        } catch (java.util.NoSuchElementException e) {
            reply(exchange, HttpResponse.Status.NOT_FOUND, Map.of("message", String.valueOf(e.getMessage())));
        } catch (IllegalArgumentException | jakarta.validation.ConstraintViolationException e) {
            reply(exchange, HttpResponse.Status.BAD_REQUEST, Map.of("message", String.valueOf(e.getMessage())));
        } catch (Exception e) {
            log.error("{} {} failed", exchange.getRequestMethod(), exchange.getRequestURI().getRawPath(), e);
            try {
                reply(exchange, HttpResponse.Status.INTERNAL_SERVER_ERROR, Map.of("message", String.valueOf(e.getMessage())));
            } catch (IOException ignored) {
                // the client went away
            }
        } finally {
            exchange.close();
        }
    }

    /**
     * One file of an execution's storage, as Kestra's webserver serves it ({@code ExecutionController}: the path must
     * be under the execution's own storage; a file of another execution is a redirect to that execution's endpoint).
     */
    private void file(HttpExchange exchange, String executionId, String path) throws IOException {
        Execution execution = engine.execution(executionId)
            .orElseThrow(() -> new java.util.NoSuchElementException("Execution not found"));
        if (path == null || !path.startsWith("kestra:///")) {
            throw new IllegalArgumentException("path must be a kestra:/// storage URI");
        }
        URI uri = URI.create(path);
        String prefix = io.kestra.core.storages.StorageContext.forExecution(execution).getExecutionStorageURI().getPath();
        if (!uri.getPath().startsWith(prefix)) {
            Optional<String> owner = io.kestra.core.storages.StorageContext.extractExecutionId(uri);
            if (owner.isEmpty() || owner.get().equals(executionId)) {
                throw new IllegalArgumentException("Invalid prefix path");
            }
            exchange.getResponseHeaders().set("Location", PREFIX + "executions/" + owner.get() + "/file?path="
                + java.net.URLEncoder.encode(path, StandardCharsets.UTF_8));
            exchange.sendResponseHeaders(302, -1);
            return;
        }
        byte[] bytes;
        try (InputStream in = engine.bean(io.kestra.core.storages.StorageInterface.class)
            .get(Engine.TENANT, execution.getNamespace(), uri)) {
            bytes = in.readAllBytes();
        } catch (java.io.FileNotFoundException | java.nio.file.NoSuchFileException e) {
            throw new java.util.NoSuchElementException("File not found: " + path);
        }
        String name = uri.getPath().substring(uri.getPath().lastIndexOf('/') + 1);
        exchange.getResponseHeaders().set("Content-Disposition", "attachment; filename=\"" + name + "\"");
        send(exchange, 200, "application/octet-stream", bytes);
    }

    /** One flow's executions, newest first: {@code namespace} and {@code flowId} required, {@code page} from 1. */
    private Map<String, Object> executions(URI uri) {
        Map<String, String> query = query(uri);
        if (!query.containsKey("namespace") || !query.containsKey("flowId")) {
            throw new IllegalArgumentException("the local engine lists one flow's executions: namespace and flowId are required");
        }
        int page = Integer.parseInt(query.getOrDefault("page", "1"));
        int size = Integer.parseInt(query.getOrDefault("size", "25"));
        ArrayListTotal<Execution> found = engine.bean(ExecutionRepositoryInterface.class).findByFlowId(Engine.TENANT,
            query.get("namespace"), query.get("flowId"), Pageable.from(page, size, Sort.of(Sort.Order.desc("start_date"))));
        return Map.of("results", found, "total", found.getTotal());
    }

    private static Map<String, String> query(URI uri) {
        Map<String, String> query = new HashMap<>();
        if (uri.getRawQuery() != null) {
            for (String pair : uri.getRawQuery().split("&")) {
                int eq = pair.indexOf('=');
                query.put(decode(eq < 0 ? pair : pair.substring(0, eq)), eq < 0 ? "" : decode(pair.substring(eq + 1)));
            }
        }
        return query;
    }

    /** The text fields of a {@code multipart/form-data} body (Kestra's execute endpoint); no body, no inputs. */
    static Map<String, Object> formFields(String contentType, byte[] body) {
        Map<String, Object> fields = new HashMap<>();
        if (body.length == 0) {
            return fields;
        }
        Matcher boundary = contentType == null ? null : Pattern.compile("boundary=\"?([^\";]+)\"?").matcher(contentType);
        if (boundary == null || !contentType.startsWith("multipart/form-data") || !boundary.find()) {
            throw new IllegalArgumentException("inputs are multipart/form-data fields, as Kestra's API takes them");
        }
        String text = new String(body, StandardCharsets.UTF_8);
        for (String part : text.split("--" + Pattern.quote(boundary.group(1)))) {
            int split = part.indexOf("\r\n\r\n");
            if (split < 0) {
                continue; // the preamble and the closing "--"
            }
            String headers = part.substring(0, split);
            Matcher name = Pattern.compile("name=\"([^\"]*)\"").matcher(headers);
            if (!name.find()) {
                throw new IllegalArgumentException("a form part has no name");
            }
            if (headers.contains("filename=")) {
                throw new IllegalArgumentException("input " + name.group(1) + ": file inputs are not served by the local engine");
            }
            String value = part.substring(split + 4);
            fields.put(name.group(1), value.endsWith("\r\n") ? value.substring(0, value.length() - 2) : value);
        }
        return fields;
    }

    private static Map<String, String> notServed() {
        return Map.of("message", "not served by the local engine: only " + PREFIX + "executions/webhook/{namespace}/{flowId}/{key}, "
            + "POST " + PREFIX + "executions/{namespace}/{flowId}, " + PREFIX + "executions/{id}, "
            + PREFIX + "executions?namespace=&flowId=, " + PREFIX + "logs/{executionId} and " + PREFIX + "flows/{namespace}/{id}");
    }

    private static URI requestUri(HttpExchange exchange) {
        return URI.create("http://" + exchange.getLocalAddress().getHostString() + ":" + exchange.getLocalAddress().getPort()
            + exchange.getRequestURI().getRawPath()
            + (exchange.getRequestURI().getRawQuery() == null ? "" : "?" + exchange.getRequestURI().getRawQuery()));
    }

    private static String decode(String part) {
        return URLDecoder.decode(part, StandardCharsets.UTF_8);
    }

    /** The body, or null when it is over the limit. */
    private static byte[] readBody(HttpExchange exchange) throws IOException {
        try (InputStream in = exchange.getRequestBody()) {
            byte[] bytes = in.readNBytes(MAX_BODY + 1);
            return bytes.length > MAX_BODY ? null : bytes;
        }
    }

    private void reply(HttpExchange exchange, HttpResponse<?> response) throws IOException {
        Map<String, List<String>> headers = response.getHeaders() == null ? Map.of() : response.getHeaders().map();
        Object body = response.getBody();
        String contentType = headers.getOrDefault("Content-Type", List.of()).stream().findFirst().orElse(null);
        if (body instanceof String text && contentType != null && contentType.startsWith("text/")) {
            send(exchange, response.getStatus().getCode(), contentType, text.getBytes(StandardCharsets.UTF_8));
        } else {
            reply(exchange, response.getStatus(), body);
        }
    }

    private void reply(HttpExchange exchange, HttpResponse.Status status, Object body) throws IOException {
        byte[] bytes = body == null ? new byte[0] : json.writeValueAsBytes(body);
        send(exchange, status.getCode(), "application/json", bytes);
    }

    private static void send(HttpExchange exchange, int code, String contentType, byte[] bytes) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", contentType);
        boolean empty = bytes.length == 0 || code == 204;
        exchange.sendResponseHeaders(code, empty ? -1 : bytes.length);
        if (!empty) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}
