package io.embedseal.app.run;

import io.embedseal.app.http.StatusServer;
import io.embedseal.app.http.StatusServerSettings;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.streams.KafkaStreams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "run",
        mixinStandardHelpOptions = true,
        description = {
            "Runs the sealing pipeline against a Kafka cluster until it is stopped (SIGTERM or Ctrl-C).",
            "Settings come from the configuration file, then from EMBEDSEAL_* environment variables "
                    + "(a.b-c is overridden by EMBEDSEAL_A_B_C). See docs/configuration.md.",
            "Serves the status page, /metrics, /health/live and /health/ready on http.bind:http.port "
                    + "(default 127.0.0.1:8080; http.enabled=false turns it off). See docs/operations.md."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:stopped cleanly", "1:the pipeline failed", "2:invalid usage or configuration"})
public final class RunCommand implements Callable<Integer> {

    private static final Logger LOG = LoggerFactory.getLogger(RunCommand.class);

    @Option(
            names = "--config",
            required = true,
            paramLabel = "FILE",
            description = "The configuration file (properties).")
    Path config;

    @Option(names = "--run-for", paramLabel = "SECONDS", description = "Stop after this many seconds (smoke tests).")
    Integer runForSeconds;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        PipelineConfig settings;
        StatusServerSettings httpSettings;
        EmbedsealPipeline pipeline;
        try {
            settings = PipelineConfig.load(config, System::getenv);
            httpSettings = StatusServerSettings.from(settings.asMap(), System::getenv);
            pipeline = EmbedsealPipeline.create(settings);
            pipeline.createTopicsIfConfigured();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "configuration: " + e.getMessage());
        } catch (KmsException | IllegalStateException e) {
            spec.commandLine().getErr().println("embedseal run: cannot start: " + e.getMessage());
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        pipeline.streams().setStateListener((now, before) -> {
            LOG.info("pipeline {} -> {}", before, now);
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                stopped.countDown();
            }
        });
        Thread hook = new Thread(
                () -> {
                    LOG.info("stopping the pipeline");
                    pipeline.close(Duration.ofSeconds(30));
                    stopped.countDown();
                },
                "embedseal-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        pipeline.start();
        LOG.info(
                "embedseal pipeline {} running against {} (KMS {}); raw {} -> sealed {}",
                settings.applicationId(),
                settings.bootstrapServers(),
                pipeline.keyring().provider(),
                settings.topics().raw(),
                settings.topics().sealed());
        StatusServer http = null;
        if (settings.get(PipelineConfig.HTTP_ENABLED)) {
            try {
                http = StatusServer.start(
                        pipeline,
                        settings.get(PipelineConfig.HTTP_BIND),
                        settings.get(PipelineConfig.HTTP_PORT),
                        httpSettings);
            } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
                Runtime.getRuntime().removeShutdownHook(hook);
                pipeline.close(Duration.ofSeconds(30));
                throw new CommandLine.ParameterException(spec.commandLine(), "configuration: " + e.getMessage());
            }
        }
        boolean timedOut =
                runForSeconds != null ? !stopped.await(runForSeconds, TimeUnit.SECONDS) : waitForever(stopped);
        KafkaStreams.State finalState = pipeline.streams().state();
        if (http != null) {
            http.close();
        }
        if (timedOut) {
            Runtime.getRuntime().removeShutdownHook(hook);
            pipeline.close(Duration.ofSeconds(30));
        }
        return finalState == KafkaStreams.State.ERROR ? 1 : 0;
    }

    private static boolean waitForever(CountDownLatch stopped) throws InterruptedException {
        stopped.await();
        return false;
    }
}
