package io.embedseal.app;

import io.embedseal.app.ops.AuditCommand;
import io.embedseal.app.ops.DlqCommand;
import io.embedseal.app.ops.KeysCommand;
import io.embedseal.app.ops.ProduceCommand;
import io.embedseal.app.ops.StatusCommand;
import io.embedseal.app.ops.TenantsCommand;
import io.embedseal.app.run.RunCommand;
import io.embedseal.app.search.SearchCommand;
import java.util.List;
import java.util.Map;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code embedseal}: the command line. Exit codes: 0 success, 1 a check or operation failed, 2 bad usage,
 * 3 refused by a tenant's key state.
 */
@Command(
        name = "embedseal",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Seals tenants' embedding vectors under keys the tenants own while they stream through Kafka.",
        subcommands = {
            RunCommand.class,
            TenantsCommand.class,
            KeysCommand.class,
            StatusCommand.class,
            DlqCommand.class,
            AuditCommand.class,
            SearchCommand.class,
            ProduceCommand.class,
            CommandLine.HelpCommand.class,
            AutoComplete.GenerateCompletion.class
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:success",
            "1:a check or an operation failed",
            "2:invalid usage",
            "3:refused by a tenant's key state (search of a revoked or destroyed tenant)"
        })
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit code, without exiting. */
    public static int execute(String... args) {
        return commandLine().execute(args);
    }

    /**
     * The development commands, by name and class. They live in the {@code embedseal-demo} module with the
     * in-process broker and Connect worker they start, which the runtime distribution does not ship; where their
     * classes are absent, the command says so instead of being unknown.
     */
    private static final List<Map.Entry<String, String>> DEVELOPMENT_COMMANDS = List.of(
            Map.entry("demo", "io.embedseal.demo.DemoCommand"),
            Map.entry("bench", "io.embedseal.demo.bench.BenchCommand"));

    /** The configured command line, for callers that redirect its output. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        for (Map.Entry<String, String> c : DEVELOPMENT_COMMANDS) {
            cli.addSubcommand(c.getKey(), developmentCommand(c.getKey(), c.getValue()));
        }
        return cli;
    }

    private static Object developmentCommand(String name, String className) {
        Class<?> type;
        try {
            type = Class.forName(className, true, Main.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            return new NotInThisDistribution(name);
        }
        try {
            return type.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot create the " + name + " command (" + className + ")", e);
        }
    }

    /** Stands for a development command in the runtime distribution, which ships without its in-process parts. */
    @Command(description = "(development distribution only: run it from a source checkout with ./embedseal)")
    static final class NotInThisDistribution implements java.util.concurrent.Callable<Integer> {

        private final String name;

        @CommandLine.Unmatched
        List<String> ignored;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        NotInThisDistribution(String name) {
            this.name = name;
        }

        @Override
        public Integer call() {
            spec.commandLine()
                    .getErr()
                    .println("embedseal " + name + ": not part of this distribution (the runtime ships without "
                            + "the in-process broker and Connect worker it needs); run './embedseal " + name
                            + "' from a source checkout");
            return 2;
        }
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required, e.g. 'embedseal demo'");
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"embedseal " + (v == null ? "(development build)" : v)};
        }
    }
}
