package io.embedseal.topology;

import io.embedseal.serdes.validation.EmbeddingValidator;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.WireFormatException;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.Sealer;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;

/**
 * Decodes, validates and seals one raw record at a time. Records that cannot be decoded or break a rule
 * become metadata-only dead letters. Sealing failures (the tenant's KMS refused or could not be reached)
 * are thrown: the task fails without committing past the record, so it is never lost and never passed on
 * in plaintext.
 */
final class SealingProcessor implements Processor<byte[], byte[], byte[], Routed> {

    private static final Logger LOG = LoggerFactory.getLogger(SealingProcessor.class);
    private static final String RESERVED_HEADER_PREFIX = "embedseal.";

    private final EmbeddingEventCodec codec;
    private final EmbeddingValidator validator;
    private final Sealer sealer;
    private ProcessorContext<byte[], Routed> context;

    SealingProcessor(EmbeddingEventCodec codec, EmbeddingValidator validator, Sealer sealer) {
        this.codec = codec;
        this.validator = validator;
        this.sealer = sealer;
    }

    @Override
    public void init(ProcessorContext<byte[], Routed> context) {
        this.context = context;
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        byte[] value = record.value();
        if (value == null) {
            deadLetter(record, DeadLetterReason.NULL_VALUE, "record has no value", -1, null, null);
            return;
        }
        EmbeddingEventCodec.Decoded decoded;
        try {
            decoded = codec.decode(value);
        } catch (WireFormatException e) {
            if (e.reason() == WireFormatException.Reason.REGISTRY_UNAVAILABLE) {
                throw e; // not the record's fault: fail the task rather than dead-letter a good record
            }
            deadLetter(record, DeadLetterReason.of(e.reason()), e.description(), e.schemaId(), null, null);
            return;
        }
        EmbeddingEvent event = decoded.event();
        EmbeddingValidator.Violation violation = validator.check(event);
        if (violation != null) {
            deadLetter(record, DeadLetterReason.of(violation.rule()), violation.detail(), decoded.schemaId(),
                    event.getTenantId(), event.getEmbeddingId());
            return;
        }
        byte[] plaintext = decoded.canonicalWriter()
                ? Arrays.copyOfRange(value, EmbeddingEventCodec.PREFIX_LENGTH, value.length)
                : EmbeddingEventCodec.toCanonicalAvro(event);
        byte[] envelope;
        try {
            envelope = sealer.seal(event.getTenantId(), event.getEmbeddingId(), PayloadType.EMBEDDING_EVENT_AVRO, plaintext);
        } finally {
            Arrays.fill(plaintext, (byte) 0);
        }
        byte[] key = new SealedRecordKey(event.getTenantId(), event.getEmbeddingId()).toBytes();
        context.forward(new Record<>(key, Routed.sealed(envelope), record.timestamp(), passThroughHeaders(record.headers())));
    }

    private void deadLetter(Record<byte[], byte[]> record, DeadLetterReason reason, String detail, int schemaId,
                            String tenantId, String embeddingId) {
        RecordMetadata source = context.recordMetadata().orElse(null);
        DeadLetters.Facts facts = new DeadLetters.Facts(reason, detail, source, schemaId,
                record.value() == null ? 0 : record.value().length, tenantId, embeddingId, context.currentSystemTimeMs());
        if (LOG.isDebugEnabled()) {
            LOG.debug("dead-lettering record {}-{}@{}: {}", source == null ? "?" : source.topic(),
                    source == null ? -1 : source.partition(), source == null ? -1 : source.offset(), reason);
        }
        context.forward(new Record<>(record.key(), Routed.deadLetter(DeadLetters.value(facts)), record.timestamp(),
                DeadLetters.headers(facts)));
    }

    /** The producer's headers travel on, except any claiming to be ours. */
    private static Headers passThroughHeaders(Headers in) {
        RecordHeaders out = new RecordHeaders();
        for (Header h : in) {
            if (!h.key().startsWith(RESERVED_HEADER_PREFIX)) {
                out.add(h);
            }
        }
        return out;
    }
}
