package io.embedseal.serdes.avro;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A schema registry held in memory, for the embedded demo and tests: ids start at 1 and are shared across
 * subjects for identical schemas, as a Confluent registry does.
 */
public final class InMemorySchemaRegistry implements SchemaRegistry {

    private final Map<String, Integer> idsByCanonicalForm = new HashMap<>();
    private final Map<Integer, Schema> schemasById = new HashMap<>();
    private final Map<String, Map<Integer, Integer>> versionsBySubject = new HashMap<>();

    @Override
    public synchronized int register(String subject, Schema schema) {
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(schema, "schema");
        String canonical = SchemaNormalization.toParsingForm(schema);
        Integer id = idsByCanonicalForm.get(canonical);
        if (id == null) {
            id = schemasById.size() + 1;
            idsByCanonicalForm.put(canonical, id);
            schemasById.put(id, schema);
        }
        Map<Integer, Integer> versions = versionsBySubject.computeIfAbsent(subject, s -> new HashMap<>());
        if (!versions.containsValue(id)) {
            versions.put(versions.size() + 1, id);
        }
        return id;
    }

    @Override
    public synchronized Schema schemaById(int id) {
        Schema schema = schemasById.get(id);
        if (schema == null) {
            throw new UnknownSchemaException(id);
        }
        return schema;
    }
}
