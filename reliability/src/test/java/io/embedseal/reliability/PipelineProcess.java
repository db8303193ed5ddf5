package io.embedseal.reliability;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * {@code embedseal run --config <file>} in a JVM of its own, exactly as an operator starts the pipeline, with its log
 * and console output in files under {@link Suite#LOGS} (for the leak scan). {@link #kill()} is SIGKILL.
 */
final class PipelineProcess implements AutoCloseable {

    private final Process process;
    private final String name;

    private PipelineProcess(Process process, String name) {
        this.process = process;
        this.name = name;
    }

    static PipelineProcess start(String name, Map<String, String> settings) throws IOException {
        Files.createDirectories(Suite.LOGS);
        Path config = Suite.LOGS.resolve(name + ".properties");
        Properties p = new Properties();
        p.putAll(settings);
        try (var out = Files.newOutputStream(config)) {
            p.store(out, "reliability suite: " + name);
        }
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx512m");
        command.add("-XX:+UseParallelGC");
        command.add("-XX:TieredStopAtLevel=1"); // short-lived: start fast rather than peak
        command.add("-Dembedseal.reliability.log=" + Suite.LOGS.resolve(name + ".log"));
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add("io.embedseal.app.Main");
        command.add("run");
        command.add("--config");
        command.add(config.toString());
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(Suite.LOGS.resolve(name + ".out").toFile())
                .start();
        return new PipelineProcess(process, name);
    }

    /** SIGKILL: no shutdown hook runs, no transaction is committed or aborted, nothing is flushed. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException(name + " did not die after SIGKILL");
        }
    }

    boolean isAlive() {
        return process.isAlive();
    }

    String name() {
        return name;
    }

    /** A clean stop (SIGTERM), as an operator would. */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        }
    }
}
