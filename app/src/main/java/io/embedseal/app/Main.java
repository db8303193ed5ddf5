package io.embedseal.app;

import io.embedseal.app.bench.BenchCommand;
import io.embedseal.app.demo.DemoCommand;
import io.embedseal.app.run.RunCommand;
import io.embedseal.app.ops.AuditCommand;
import io.embedseal.app.ops.DlqCommand;
import io.embedseal.app.ops.KeysCommand;
import io.embedseal.app.ops.ProduceCommand;
import io.embedseal.app.ops.StatusCommand;
import io.embedseal.app.ops.TenantsCommand;
import io.embedseal.app.search.SearchCommand;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code embedseal}: the command line. Exit codes: 0 success, 1 a check or operation failed, 2 bad usage,
 * 3 refused by a tenant's key state.
 */
@Command(name = "embedseal",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Seals tenants' embedding vectors under keys the tenants own while they stream through Kafka.",
        subcommands = {DemoCommand.class, RunCommand.class, TenantsCommand.class, KeysCommand.class, StatusCommand.class,
                DlqCommand.class, AuditCommand.class, SearchCommand.class, ProduceCommand.class, BenchCommand.class,
                CommandLine.HelpCommand.class,
                AutoComplete.GenerateCompletion.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:success", "1:a check or an operation failed", "2:invalid usage",
                "3:refused by a tenant's key state (search of a revoked or destroyed tenant)"})
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

    /** The configured command line, for callers that redirect its output. */
    public static CommandLine commandLine() {
        return new CommandLine(new Main());
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
