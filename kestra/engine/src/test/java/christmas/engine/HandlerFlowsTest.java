package christmas.engine;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.flows.State;
import io.kestra.core.serializers.JacksonMapper;

import static org.assertj.core.api.Assertions.assertThat;

/** Each handler flow end to end on Kestra's engine, from its webhook to the outbox and the ledger. */
class HandlerFlowsTest {
    private static final ObjectMapper JSON = JacksonMapper.ofJson();

    /** Every event kind the package describes (`christmas-tasks events`) that has a sample body. */
    static List<Map<String, Object>> kindsWithASample() throws Exception {
        Process events = new ProcessBuilder(Funnel.CLI.toString(), "events", "--format", "json")
            .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        byte[] listed = events.getInputStream().readAllBytes();  // all of it before the process ends
        assertThat(events.waitFor()).isZero();
        List<Map<String, Object>> kinds = JSON.readValue(listed, new TypeReference<>() { });
        return kinds.stream().filter(kind -> kind.get("sample") != null).toList();
    }

    /**
     * Derived from the kinds, so a new kind is run here without an edit: its flow, posted its own sample, succeeds and
     * sends every email of the sequence it starts (the fast catalogue's), each once; a kind that starts none sends none.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("kindsWithASample")
    void everyEventKindsFlowHandlesItsSample(Map<String, Object> kind) throws Exception {
        Funnel funnel = Funnel.get();
        String flow = String.valueOf(kind.get("kind"));
        String email = Funnel.newEmail("kind-" + flow);
        String sample = Path.of(String.valueOf(kind.get("sample"))).getFileName().toString();

        Execution handler = funnel.handle(flow, Funnel.sample(sample, email));
        assertThat(handler.getState().getCurrent()).as("%s", funnel.allLogs(handler)).isEqualTo(State.Type.SUCCESS);
        JsonNode catalogue = JSON.readTree(funnel.catalogue.toFile());
        List<Integer> numbers = new ArrayList<>();
        if (kind.get("starts") != null) {
            catalogue.get(String.valueOf(kind.get("starts"))).get("emails").forEach(e -> numbers.add(e.get("number").asInt()));
        }
        Map<Integer, Execution> sends = funnel.awaitSends(handler);
        assertThat(sends.keySet()).as("the emails of %s", kind.get("starts")).containsExactlyElementsOf(numbers);
        assertThat(sends.values()).allSatisfy(e -> assertThat(Funnel.result(e, "send").get("status")).isEqualTo("sent"));
        assertThat(funnel.outboxNumbers(email)).containsExactlyElementsOf(numbers);
    }

    @ParameterizedTest(name = "{0} with {1}")
    @CsvSource(delimiter = '|', value = {
        "assessment | assessment.json      | 2 3 4 5 | Nurture Sequence",
        "noshow     | noshow.json          | 1 2 3   | No-Show Recovery",
        "noshow     | noshow-calendly.json | 1 2 3   | No-Show Recovery",
        "postcall   | postcall.json        | 1 2 3   | Post-Call Follow-Up",
        "onboarding | onboarding.json      | 1 2 3   | Onboarding",
        "cancellation | cancellation-calendly.json | 1 2 | Rebook Follow-Up",
    })
    void aSequenceHandlerSendsEveryEmailOnce(String flow, String sample, String numbersText, String status) throws Exception {
        Funnel funnel = Funnel.get();
        List<Integer> numbers = Arrays.stream(numbersText.split(" ")).map(Integer::valueOf).toList();
        String email = Funnel.newEmail(flow);

        Execution handler = funnel.handle(flow, Funnel.sample(sample, email));
        assertThat(handler.getState().getCurrent()).as("%s", funnel.logs(handler.getId())).isEqualTo(State.Type.SUCCESS);
        Map<String, Object> outputs = Funnel.result(handler, "handle");
        assertThat(outputs.get("planned")).isEqualTo(numbers.size());
        String key = (String) ((Map<?, ?>) outputs.get("result")).get("sequence_key");

        Map<Integer, Execution> sends = funnel.awaitSends(handler);
        assertThat(sends.keySet()).containsExactlyElementsOf(numbers);
        for (Execution send : sends.values()) {
            assertThat(send.getState().getCurrent()).as("%s", funnel.logs(send.getId())).isEqualTo(State.Type.SUCCESS);
            assertThat(Funnel.result(send, "send").get("status")).isEqualTo("sent");
        }

        assertThat(funnel.outboxNumbers(email)).containsExactlyElementsOf(numbers);
        Map<Integer, Map<String, Object>> ledger = funnel.sentEmails(key);
        assertThat(ledger.entrySet().stream().filter(e -> "kestra".equals(e.getValue().get("sent_by"))).map(Map.Entry::getKey))
            .containsExactlyElementsOf(numbers);
        if (flow.equals("assessment")) {
            assertThat(ledger.get(1).get("sent_by")).as("email 1 is the website's").isEqualTo("website");
        }
        Map<String, Object> sequence = funnel.sequences(email).get(0);
        assertThat(sequence.get("completed")).isEqualTo(1);
        assertThat(sequence.get("stopped_reason")).isNull();
        assertThat(funnel.contact(email).orElseThrow().get("campaign_status")).isEqualTo(status);
    }

    @ParameterizedTest(name = "{0} with {1}")
    @CsvSource(delimiter = '|', value = {
        "signup       | signup.json           | campaign_status=Signed Up      | email_status=ok",
        "booking      | booking-calendly.json | campaign_status=Pre-Call Prep  | booking_status=Booked",
        "unsubscribe  | unsubscribe.json      | campaign_status=Unsubscribed   | email_status=unsubscribed",
        "email-status | email-bounced.json    | email_status=bounced           | email_status=bounced",
        "email-suppression | email-complained.json | email_status=complained | email_status=complained",
    })
    void aTrackingHandlerRecordsTheContactAndSendsNothing(String flow, String sample, String first, String second)
        throws Exception {
        Funnel funnel = Funnel.get();
        String email = Funnel.newEmail(flow);

        Execution handler = funnel.handle(flow, Funnel.sample(sample, email));
        assertThat(handler.getState().getCurrent()).as("%s", funnel.logs(handler.getId())).isEqualTo(State.Type.SUCCESS);
        // a suppression (a person's unsubscribe, a complaint) runs the step itself (`apply`), never behind the queue
        String call = List.of("unsubscribe", "email-suppression").contains(flow) ? "apply" : "handle";
        assertThat(Funnel.result(handler, call).get("planned")).isEqualTo(0);
        assertThat(funnel.scheduledSends(handler)).isEmpty();

        Map<String, Object> contact = funnel.contact(email).orElseThrow();
        for (String expected : List.of(first, second)) {
            String[] pair = expected.split("=", 2);
            assertThat(contact.get(pair[0])).as(pair[0]).isEqualTo(pair[1]);
        }
        assertThat(funnel.sequences(email)).isEmpty();
        assertThat(funnel.outbox(email)).isEmpty();
    }

    /** Calendly's own bodies of a reschedule: the old call's invitee.canceled (rescheduled) changes nothing, and the
     * new call's invitee.created (with old_invitee) is a booking of the new meeting, in the invitee's time zone. */
    @Test
    void aRescheduleStartsNothingAndItsNewBookingIsABooking() throws Exception {
        Funnel funnel = Funnel.get();
        String email = Funnel.newEmail("reschedule");
        Execution booked = funnel.handle("booking", Funnel.sample("booking-calendly.json", email));
        assertThat(booked.getState().getCurrent()).as("%s", funnel.logs(booked.getId())).isEqualTo(State.Type.SUCCESS);

        Execution canceled = funnel.handle("cancellation", Funnel.sample("cancellation-rescheduled-calendly.json", email));
        assertThat(canceled.getState().getCurrent()).as("%s", funnel.logs(canceled.getId())).isEqualTo(State.Type.SUCCESS);
        Map<String, Object> outputs = Funnel.result(canceled, "handle");
        assertThat(outputs.get("planned")).isEqualTo(0);
        assertThat(String.valueOf(((Map<?, ?>) outputs.get("result")).get("reason"))).contains("reschedule");
        assertThat(funnel.scheduledSends(canceled)).isEmpty();

        Execution rebooked = funnel.handle("booking", Funnel.sample("booking-rescheduled-calendly.json", email));
        assertThat(rebooked.getState().getCurrent()).as("%s", funnel.logs(rebooked.getId())).isEqualTo(State.Type.SUCCESS);
        Map<String, Object> contact = funnel.contact(email).orElseThrow();
        assertThat(contact.get("booking_status")).isEqualTo("Booked");
        assertThat(String.valueOf(contact.get("booked_call"))).endsWith("/EEEEEEEEEEEEEEEE");
        assertThat(contact.get("timezone")).isEqualTo("America/Vancouver");
        assertThat(funnel.sequences(email)).isEmpty();
        assertThat(funnel.outbox(email)).isEmpty();
    }

    @Test
    void anUnpaidOnboardingStartsNothingAndSaysSo() throws Exception {
        Funnel funnel = Funnel.get();
        String email = Funnel.newEmail("unpaid");
        String body = Funnel.sample("onboarding.json", email).replace("\"payment_confirmed\": true", "\"payment_confirmed\": false");
        assertThat(body).contains("\"payment_confirmed\": false");

        Execution handler = funnel.handle("onboarding", body);
        assertThat(handler.getState().getCurrent()).isEqualTo(State.Type.SUCCESS);
        Map<String, Object> outputs = Funnel.result(handler, "handle");
        assertThat(outputs.get("planned")).isEqualTo(0);
        assertThat(String.valueOf(((Map<?, ?>) outputs.get("result")).get("reason"))).contains("payment_confirmed is false");
        assertThat(funnel.scheduledSends(handler)).isEmpty();
        assertThat(funnel.sequences(email)).isEmpty();
        assertThat(funnel.outbox(email)).isEmpty();
    }
}
