package io.embedseal.demo.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;

/** The bench's input: a record the broker did not take fails the bench, it does not leave it waiting for output. */
class PipelineBenchInputTest {

    @Test
    void aRecordTheBrokerRefused_failsTheFill_namingTheTopic() throws Exception {
        // A producer whose third record the broker answers with OutOfOrderSequenceException (seen once in a bench
        // run on the in-process broker); before, the bench ignored the future and waited for output without end.
        MockProducer<byte[], byte[]> refusing = failingAt(3, e -> {
            OutOfOrderSequenceException error = new OutOfOrderSequenceException("out of order");
            e.callback().onCompletion(null, error);
            return CompletableFuture.failedFuture(error);
        });
        assertThatThrownBy(() -> PipelineBench.send(
                        refusing, "bench-input", 1, 8, List.of("t0", "t1"), new int[] {0, 1, 0, 1, 0}, 0, 0))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("bench-input")
                .hasMessageContaining("OutOfOrderSequenceException")
                .hasMessageContaining("nothing was measured");
        assertThat(refusing.history()).hasSize(2);

        // A transactional producer in its error state throws from send() itself.
        MockProducer<byte[], byte[]> throwing = failingAt(2, e -> {
            throw new org.apache.kafka.common.KafkaException("cannot send in the error state");
        });
        assertThatThrownBy(() -> PipelineBench.send(
                        throwing, "bench-input", 1, 8, List.of("t0", "t1"), new int[] {0, 1, 0, 1, 0}, 0, 0))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("bench-input")
                .hasMessageContaining("error state");

        MockProducer<byte[], byte[]> taking =
                new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer());
        assertThat(PipelineBench.send(
                        taking, "bench-input", 1, 8, List.of("t0", "t1"), new int[] {0, 1, 0, 1, 0}, 0, 0))
                .isPositive();
        assertThat(taking.history()).hasSize(5);
    }

    /** The send that fails, and the callback it was given. */
    record Send(ProducerRecord<byte[], byte[]> record, Callback callback) {}

    /** A producer that takes every record but the {@code n}th, which {@code failure} answers. */
    private static MockProducer<byte[], byte[]> failingAt(
            int n, java.util.function.Function<Send, Future<RecordMetadata>> failure) {
        return new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer()) {
            private int sent;

            @Override
            public synchronized Future<RecordMetadata> send(ProducerRecord<byte[], byte[]> record, Callback callback) {
                return ++sent == n ? failure.apply(new Send(record, callback)) : super.send(record, callback);
            }
        };
    }
}
