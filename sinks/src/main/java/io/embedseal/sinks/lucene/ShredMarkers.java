package io.embedseal.sinks.lucene;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.embedseal.sinks.ShredRecord;
import io.embedseal.sinks.StoreException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * One small JSON file per shredded tenant ({@code <dir>/<tenant>.json}): what was deleted, when, and whether the
 * receipt reached the audit topic. Written atomically (temporary file, then rename). It holds counts, never data,
 * and is what lets the search command say "destroyed" rather than "no such index".
 */
final class ShredMarkers {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;

    ShredMarkers(Path dir) {
        this.dir = dir;
    }

    Optional<ShredRecord> read(String tenant) {
        return read(dir, tenant);
    }

    static Optional<ShredRecord> read(Path dir, String tenant) {
        try {
            JsonNode n = JSON.readTree(Files.readString(dir.resolve(tenant + ".json")));
            return Optional.of(new ShredRecord(
                    tenant,
                    counts(n.get("deleted")),
                    counts(n.get("kept")),
                    Instant.parse(n.get("shreddedAt").asText()),
                    n.path("receipted").asBoolean(false)));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            throw new StoreException(
                    "the shred marker of tenant " + tenant + " in " + dir + " is unreadable", e, false);
        }
    }

    private static Map<String, Long> counts(JsonNode n) {
        Map<String, Long> out = new LinkedHashMap<>();
        if (n != null) {
            n.properties().forEach(e -> out.put(e.getKey(), e.getValue().asLong()));
        }
        return out;
    }

    void write(ShredRecord r) {
        ObjectNode n = JSON.createObjectNode();
        n.put("tenant", r.tenantId());
        ObjectNode deleted = n.putObject("deleted");
        r.deleted().forEach(deleted::put);
        ObjectNode kept = n.putObject("kept");
        r.kept().forEach(kept::put);
        n.put("shreddedAt", r.shreddedAt().toString());
        n.put("receipted", r.receipted());
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, r.tenantId(), ".tmp");
            Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(n));
            Files.move(
                    tmp,
                    dir.resolve(r.tenantId() + ".json"),
                    StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new StoreException("cannot write the shred marker of tenant " + r.tenantId() + " in " + dir, e, true);
        }
    }
}
