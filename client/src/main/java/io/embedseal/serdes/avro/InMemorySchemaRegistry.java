package io.embedseal.serdes.avro;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaNormalization;

/**
 * A schema registry held in memory, for the embedded demo and tests, with the Confluent registry's semantics:
 * ids start at 1 and are shared across subjects for identical schemas; versions count per subject; every
 * subject's compatibility rule defaults to BACKWARD and is enforced on registration (409-like refusal).
 */
public final class InMemorySchemaRegistry implements SchemaRegistry {

    private static final Set<String> LEVELS = Set.of(
            "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE");

    private final Map<String, Integer> idsByCanonicalForm = new HashMap<>();
    private final Map<Integer, Schema> schemasById = new HashMap<>();
    private final Map<Integer, String> otherTypesById = new HashMap<>();
    private final Map<String, List<Integer>> idsBySubject = new HashMap<>();
    private final Map<String, String> compatibilityBySubject = new HashMap<>();

    @Override
    public synchronized int register(String subject, Schema schema) {
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(schema, "schema");
        String canonical = SchemaNormalization.toParsingForm(schema);
        Integer existing = idsByCanonicalForm.get(canonical);
        List<Integer> versions = idsBySubject.computeIfAbsent(subject, s -> new ArrayList<>());
        if (existing != null && versions.contains(existing)) {
            return existing;
        }
        if (!isCompatible(subject, schema)) {
            throw new IncompatibleSchemaException("schema " + schema.getFullName() + " is incompatible with subject "
                    + subject + " under its " + compatibility(subject) + " rule");
        }
        int id = existing != null ? existing : schemasById.size() + otherTypesById.size() + 1;
        idsByCanonicalForm.putIfAbsent(canonical, id);
        schemasById.putIfAbsent(id, schema);
        versions.add(id);
        return id;
    }

    /**
     * Registers a schema of another type (PROTOBUF, JSON) under its own id, as a registry shared with other
     * applications holds: {@link #schemaById} then refuses it as {@link NotAvroSchemaException}.
     */
    public synchronized int registerOtherType(String type, String text) {
        Objects.requireNonNull(text, "text");
        int id = schemasById.size() + otherTypesById.size() + 1;
        otherTypesById.put(id, Objects.requireNonNull(type, "type"));
        return id;
    }

    @Override
    public synchronized Schema schemaById(int id) {
        String other = otherTypesById.get(id);
        if (other != null) {
            throw new NotAvroSchemaException(id, other);
        }
        Schema schema = schemasById.get(id);
        if (schema == null) {
            throw new UnknownSchemaException(id);
        }
        return schema;
    }

    @Override
    public synchronized int lookup(String subject, Schema schema) {
        Integer id = idsByCanonicalForm.get(SchemaNormalization.toParsingForm(schema));
        List<Integer> versions = idsBySubject.get(subject);
        if (versions == null || versions.isEmpty()) {
            throw new UnknownSubjectException("subject " + subject + " not found");
        }
        if (id == null || !versions.contains(id)) {
            throw new UnknownSchemaException(-1);
        }
        return id;
    }

    @Override
    public synchronized RegisteredSchema latest(String subject) {
        List<Integer> versions = idsBySubject.get(subject);
        if (versions == null || versions.isEmpty()) {
            throw new UnknownSubjectException("subject " + subject + " not found");
        }
        int id = versions.get(versions.size() - 1);
        return new RegisteredSchema(
                subject, versions.size(), id, java.util.Objects.requireNonNull(schemasById.get(id)));
    }

    @Override
    public synchronized boolean isCompatible(String subject, Schema schema) {
        List<Integer> versions = idsBySubject.getOrDefault(subject, List.of());
        if (versions.isEmpty()) {
            return true;
        }
        String level = compatibility(subject);
        if (level.equals("NONE")) {
            return true;
        }
        List<Integer> against = level.endsWith("_TRANSITIVE") ? versions : List.of(versions.get(versions.size() - 1));
        for (int id : against) {
            Schema old = java.util.Objects.requireNonNull(schemasById.get(id), "a registered version has its schema");
            boolean backward = compatible(schema, old); // new reads old
            boolean forward = compatible(old, schema); // old reads new
            boolean ok = switch (level.replace("_TRANSITIVE", "")) {
                case "BACKWARD" -> backward;
                case "FORWARD" -> forward;
                case "FULL" -> backward && forward;
                default -> true;
            };
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    @Override
    public synchronized void setCompatibility(String subject, String level) {
        String normalized = level.toUpperCase(Locale.ROOT);
        if (!LEVELS.contains(normalized)) {
            throw new InvalidSchemaException("unknown compatibility level " + level + "; use one of " + LEVELS);
        }
        compatibilityBySubject.put(subject, normalized);
    }

    private String compatibility(String subject) {
        return compatibilityBySubject.getOrDefault(subject, "BACKWARD");
    }

    private static boolean compatible(Schema reader, Schema writer) {
        return SchemaCompatibility.checkReaderWriterCompatibility(reader, writer)
                        .getType()
                == SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE;
    }
}
