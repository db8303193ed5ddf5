package io.embedseal.app.ops;

import io.embedseal.keyring.kms.KmsException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * What the operator commands share: where the cluster and KMS are, who acts, and how failures end. Exit codes:
 * 0 done (or nothing to do), 1 refused or failed (the message says why), 2 invalid usage.
 */
abstract class OperatorCommand implements Callable<Integer> {

    @CommandLine.Mixin
    ClusterOptions clusterOptions = new ClusterOptions();

    @Option(
            names = "--actor",
            description = "Who acts, recorded in key events and the audit trail (default: the OS user).")
    String actor = System.getProperty("user.name", "operator");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    PrintWriter err() {
        return spec.commandLine().getErr();
    }

    /** Failure of the operation itself (not of usage): exit 1 with a message. */
    static final class OperationFailed extends RuntimeException {
        OperationFailed(String message) {
            super(message);
        }
    }

    @Override
    public final Integer call() throws Exception {
        ClusterOptions.Cluster cluster;
        try {
            cluster = clusterOptions.resolve();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        try {
            return run(cluster);
        } catch (OperationFailed | KmsException | IllegalStateException e) {
            err().println("embedseal " + spec.qualifiedName(" ").replaceFirst("^embedseal ", "") + ": "
                    + e.getMessage());
            err().flush();
            return 1;
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        } finally {
            out().flush();
            err().flush();
        }
    }

    abstract int run(ClusterOptions.Cluster cluster) throws Exception;
}
