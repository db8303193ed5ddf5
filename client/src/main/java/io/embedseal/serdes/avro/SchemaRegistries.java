package io.embedseal.serdes.avro;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Builds a {@link SchemaRegistry} from a client configuration. {@code schema.registry.url=mock://<name>} gives
 * an in-memory registry shared by every client in this JVM that names the same {@code <name>} (the Confluent
 * convention for tests and embedded use); anything else is a REST client.
 */
public final class SchemaRegistries {

    private static final Map<String, InMemorySchemaRegistry> MOCKS = new ConcurrentHashMap<>();

    private SchemaRegistries() {}

    public static SchemaRegistry fromConfig(Map<String, ?> config, Function<String, String> env) {
        Object url = config.get("schema.registry.url");
        if (url != null && url.toString().startsWith("mock://")) {
            return inMemory(url.toString().substring("mock://".length()));
        }
        return new ConfluentSchemaRegistryClient(ConfluentSchemaRegistryClient.Settings.from(config, env));
    }

    public static SchemaRegistry fromConfig(Map<String, ?> config) {
        return fromConfig(config, System::getenv);
    }

    /** The in-memory registry of this name, shared in the JVM. */
    public static InMemorySchemaRegistry inMemory(String name) {
        return MOCKS.computeIfAbsent(name, n -> new InMemorySchemaRegistry());
    }
}
