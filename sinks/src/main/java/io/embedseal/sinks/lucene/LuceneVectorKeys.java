package io.embedseal.sinks.lucene;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.sinks.StoreException;
import io.embedseal.sinks.blind.VectorKeyStorage;
import io.embedseal.sinks.blind.WrappedVectorKey;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;

/**
 * Blind mode's wrapped vector keys for the Lucene sink: {@code <lucene.dir>/<tenant>/embedseal-vector.key}, JSON
 * ({@code format}, {@code tenant}, {@code id}, {@code beta}, {@code kek}, {@code wrapped}), beside the tenant's index
 * and deleted with it. Lucene ignores the file (the encrypted directory hides every {@code embedseal-} file).
 */
public final class LuceneVectorKeys implements VectorKeyStorage {

    public static final String NAME = "embedseal-vector.key";
    static final String FORMAT = "embedseal-vector-key-v1";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path root;

    /** @param root the sink's {@code lucene.dir} */
    public LuceneVectorKeys(Path root) {
        this.root = root;
    }

    private Path file(String tenant) {
        return LuceneVectorStore.tenantDir(root, tenant).resolve(NAME);
    }

    @Override
    public synchronized Optional<WrappedVectorKey> read(String tenant) {
        Path file = file(tenant);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            JsonNode n = JSON.readTree(Files.readAllBytes(file));
            if (!FORMAT.equals(n.path("format").asText())
                    || !tenant.equals(n.path("tenant").asText())) {
                throw new InvalidWrappedKeyException(file + " is not tenant " + tenant + "'s vector key file");
            }
            return Optional.of(new WrappedVectorKey(
                    tenant,
                    HexFormat.of().parseHex(n.path("id").asText()),
                    n.path("beta").asDouble(Double.NaN),
                    KekRef.parse(n.path("kek").asText()),
                    Base64.getDecoder().decode(n.path("wrapped").asText())));
        } catch (IllegalArgumentException | com.fasterxml.jackson.core.JacksonException e) {
            throw new InvalidWrappedKeyException(file + " is malformed: " + e.getMessage());
        } catch (IOException e) {
            throw new StoreException("cannot read " + file, e, true);
        }
    }

    @Override
    public synchronized WrappedVectorKey putIfAbsent(WrappedVectorKey key) {
        Path file = file(key.tenant());
        try {
            Path tmp = write(key);
            try {
                // A hard link is created only if the name is free, atomically: a key another writer stored first stays
                // (a rename would replace it).
                Files.createLink(file, tmp);
            } catch (FileAlreadyExistsException e) {
                // the other writer's key is kept
            } catch (UnsupportedOperationException e) {
                if (!Files.exists(file)) {
                    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
            return read(key.tenant()).orElseThrow();
        } catch (IOException e) {
            throw new StoreException("cannot write " + file, e, true);
        }
    }

    @Override
    public synchronized boolean replace(WrappedVectorKey old, WrappedVectorKey rewrapped) {
        if (!read(old.tenant()).map(old::equals).orElse(false)) {
            return false;
        }
        Path file = file(old.tenant());
        try {
            Files.move(write(rewrapped), file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return true;
        } catch (IOException e) {
            throw new StoreException("cannot write " + file, e, true);
        }
    }

    /** The key in a temporary file beside its place, durable. */
    private Path write(WrappedVectorKey key) throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("format", FORMAT);
        n.put("tenant", key.tenant());
        n.put("id", key.idHex());
        n.put("beta", key.beta());
        n.put("kek", key.kek().toString());
        n.put("wrapped", Base64.getEncoder().encodeToString(key.wrapped()));
        Path dir = LuceneVectorStore.tenantDir(root, key.tenant());
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, NAME, ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(java.nio.ByteBuffer.wrap(
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(n)));
            ch.force(true);
        }
        return tmp;
    }
}
