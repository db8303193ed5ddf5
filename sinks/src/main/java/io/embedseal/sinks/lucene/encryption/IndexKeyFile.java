package io.embedseal.sinks.lucene.encryption;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.embedseal.keyring.kms.KekRef;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The file in a tenant's index directory that holds its index keys, each only as the tenant's KMS wrapped it, bound
 * to the tenant, the key's id and the purpose {@code embedseal.index-key.v1} (so no wrapped DEK of an envelope can be
 * passed off as an index key, nor one tenant's index key as another's). Small JSON, written whole and atomically:
 *
 * <pre>{"format":"embedseal.index-keys.v1","tenant":"acme","current":"&lt;id hex&gt;",
 *  "keys":[{"id":"&lt;id hex&gt;","kek":"vault:tenant-acme:3","wrapped":"&lt;base64&gt;"}]}</pre>
 *
 * Usually one key; two while {@code embedseal index reencrypt} moves the files to a fresh one.
 */
public final class IndexKeyFile {

    /** The file's name in the index directory (never a name Lucene uses). */
    public static final String NAME = "embedseal-index.keys";

    static final String FORMAT = "embedseal.index-keys.v1";
    private static final byte[] PURPOSE = "embedseal.index-key.v1".getBytes(StandardCharsets.US_ASCII);
    private static final ObjectMapper JSON = new ObjectMapper();

    private IndexKeyFile() {}

    /** One wrapped index key. */
    public record Entry(byte[] id, KekRef kek, byte[] wrapped) {
        public String idHex() {
            return HexFormat.of().formatHex(id);
        }
    }

    /** What the file holds. */
    public record Contents(String tenant, byte[] current, List<Entry> keys) {
        public Entry currentEntry() {
            return keys.stream()
                    .filter(e -> java.util.Arrays.equals(e.id(), current))
                    .findFirst()
                    .orElseThrow();
        }
    }

    /** The associated data every wrap of this index key is bound to. */
    public static byte[] associatedData(String tenant, byte[] keyId) {
        byte[] t = tenant.getBytes(StandardCharsets.UTF_8);
        if (t.length > 255) {
            throw new IllegalArgumentException("tenant id longer than 255 bytes");
        }
        byte[] aad = new byte[PURPOSE.length + 2 + t.length + keyId.length];
        System.arraycopy(PURPOSE, 0, aad, 0, PURPOSE.length);
        aad[PURPOSE.length] = 0;
        aad[PURPOSE.length + 1] = (byte) t.length;
        System.arraycopy(t, 0, aad, PURPOSE.length + 2, t.length);
        System.arraycopy(keyId, 0, aad, PURPOSE.length + 2 + t.length, keyId.length);
        return aad;
    }

    public static boolean exists(Path dir) {
        return Files.isRegularFile(dir.resolve(NAME));
    }

    /** The file's contents, or empty if there is none. */
    public static Optional<Contents> read(Path dir) throws IOException {
        Path file = dir.resolve(NAME);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            JsonNode n = JSON.readTree(Files.readAllBytes(file));
            if (!FORMAT.equals(n.path("format").asText())) {
                throw new IOException(file + " is not an embedseal index key file (format '"
                        + n.path("format").asText() + "')");
            }
            List<Entry> keys = new ArrayList<>();
            for (JsonNode k : n.path("keys")) {
                keys.add(new Entry(
                        hex(k.path("id").asText(), file),
                        KekRef.parse(k.path("kek").asText()),
                        Base64.getDecoder().decode(k.path("wrapped").asText())));
            }
            Contents c = new Contents(
                    n.path("tenant").asText(), hex(n.path("current").asText(), file), keys);
            if (keys.stream().noneMatch(e -> java.util.Arrays.equals(e.id(), c.current()))) {
                throw new IOException(file + " names a current key it does not hold");
            }
            return Optional.of(c);
        } catch (IllegalArgumentException | com.fasterxml.jackson.core.JacksonException e) {
            throw new IOException(file + " is malformed: " + e.getMessage(), e);
        }
    }

    private static byte[] hex(String text, Path file) throws IOException {
        try {
            byte[] id = HexFormat.of().parseHex(text);
            if (id.length != IndexFileFormat.KEY_ID_BYTES) {
                throw new IOException(file + ": an index key id has " + IndexFileFormat.KEY_ID_BYTES + " bytes");
            }
            return id;
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": malformed key id", e);
        }
    }

    /** Replaces the file atomically, durable before this returns (the file, then its directory). */
    public static void write(Path dir, Contents c) throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("format", FORMAT);
        n.put("tenant", c.tenant());
        n.put("current", HexFormat.of().formatHex(c.current()));
        ArrayNode keys = n.putArray("keys");
        for (Entry e : c.keys()) {
            keys.addObject()
                    .put("id", e.idHex())
                    .put("kek", e.kek().toString())
                    .put("wrapped", Base64.getEncoder().encodeToString(e.wrapped()));
        }
        Files.createDirectories(dir);
        Path tmp = dir.resolve(NAME + ".tmp");
        try (FileChannel ch = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(n)));
            ch.force(true);
        }
        Files.move(tmp, dir.resolve(NAME), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // some file systems cannot sync a directory; the rename is still atomic
        }
    }
}
