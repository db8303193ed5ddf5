package io.embedseal.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.testkit.PythonClient;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The demo's Python producer: part of the events are published by the Python client ({@code python -m embedseal
 * produce-raw}: its validation, then confluent-kafka, in Confluent wire format under the demo registry's schema id) from
 * the virtualenv the build makes. Where there is no venv yet the demo makes it ({@code clients/python/build.py --venv},
 * pinned by hash, which needs CPython 3.11 to 3.13 and PyPI); where it cannot, the Java producer sends those events too and the
 * report says why.
 */
final class DemoPython {

    /** What Python published: how many, with which client, or why it did not. */
    record Outcome(int sent, String detail) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private DemoPython() {}

    /** The venv's Python, made first if missing; or an exception saying why there is none. */
    static Path python() throws IOException, InterruptedException {
        Path python = PythonClient.python();
        if (Files.isExecutable(python)) {
            return python;
        }
        Path build = PythonClient.home().resolve("build.py");
        Path log = Files.createTempFile("embedseal-python-venv", ".log");
        Process p;
        try {
            p = new ProcessBuilder("python3", build.toString(), "--venv")
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
        } catch (IOException e) {
            throw new IOException("no python3 on the PATH", e);
        }
        if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("python3 clients/python/build.py --venv failed (see " + log + ")");
        }
        return python;
    }

    /**
     * Publishes {@code events} to {@code topic} from Python.
     *
     * @throws IOException if Python is not available or did not deliver every event (the caller sends them instead)
     */
    static Outcome publish(String bootstrap, String topic, int schemaId, List<EmbeddingEvent> events, Path dir)
            throws IOException, InterruptedException {
        Path python = python();
        Path input = dir.resolve("python-events.jsonl");
        try (Writer w = Files.newBufferedWriter(input, StandardCharsets.UTF_8)) {
            for (EmbeddingEvent e : events) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("tenantId", e.getTenantId());
                o.put("embeddingId", e.getEmbeddingId());
                o.put("model", e.getModel());
                o.put("vector", e.getVector());
                o.put("metadata", e.getMetadata());
                o.put("eventTime", e.getEventTime().toEpochMilli());
                w.write(JSON.writeValueAsString(o));
                w.write('\n');
            }
        }
        Path err = dir.resolve("python-producer.log");
        Process p = new ProcessBuilder(
                        python.toString(),
                        "-m",
                        "embedseal",
                        "produce-raw",
                        "--bootstrap",
                        bootstrap,
                        "--topic",
                        topic,
                        "--schema-id",
                        Integer.toString(schemaId),
                        "--input",
                        input.toString())
                .redirectError(err.toFile())
                .start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        boolean ended = p.waitFor(3, TimeUnit.MINUTES);
        // The events hold plaintext vectors: the file goes as soon as Python has read it.
        Files.deleteIfExists(input);
        if (!ended || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("python -m embedseal produce-raw failed (see " + err + ")");
        }
        JsonNode summary = JSON.readTree(out);
        int sent = summary.get("sent").asInt();
        if (sent != events.size() || summary.get("undelivered").asInt() != 0) {
            throw new IOException("Python sent " + sent + " of " + events.size() + " events: " + out);
        }
        return new Outcome(sent, summary.get("client").asText());
    }
}
