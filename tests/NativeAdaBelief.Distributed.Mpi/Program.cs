using NativeAdaBelief.Distributed;
using NativeAdaBelief.Distributed.Mpi;

// The MPI test scenarios and the benchmark, one per run:
//   mpiexec -n 2 dotnet NativeAdaBelief.Distributed.Mpi.dll <scenario> [--option value ...] [--no-mpi]
// Each rank checks itself and prints "rank r: <scenario> OK: ..." or "rank r: FAILED: ..."; the
// exit code is 0 only when every check of this rank passed. --no-mpi runs on a
// SingleProcessCommunicator (one process, no launcher). tests/NativeAdaBelief.Distributed.Tests
// launches these; docs/distributed.md shows the benchmark's command.
return ScenarioProgram.Run(args);

namespace NativeAdaBelief.Distributed.Mpi
{
    internal static class ScenarioProgram
    {
        internal static int Run(string[] arguments)
        {
            Args args;
            try
            {
                args = new Args(arguments);
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine(e.Message);
                return 2;
            }
            Communicator communicator = args.Flag("no-mpi") ? new SingleProcessCommunicator() : MpiCommunicator.Initialize();
            try
            {
                communicator.Timeout = TimeSpan.FromSeconds(args.Double("timeout", 120));
                switch (args.Scenario)
                {
                    case "equivalence":
                        EquivalenceScenario.Run(communicator, args);
                        break;
                    case "state-bytes":
                        StateBytesScenario.Run(communicator, args);
                        break;
                    case "checkpoint-save":
                        CheckpointScenarios.Save(communicator, args);
                        break;
                    case "checkpoint-resume":
                        CheckpointScenarios.Resume(communicator, args);
                        break;
                    case "checkpoint-plain":
                        CheckpointScenarios.Plain(args);
                        break;
                    case "mismatch":
                        RefusalScenarios.Mismatch(communicator, args);
                        break;
                    case "dead-rank":
                        RefusalScenarios.DeadRank(communicator, args);
                        break;
                    case "benchmark":
                        CommunicationBenchmark.Run(communicator, args);
                        break;
                    default:
                        Console.Error.WriteLine($"unknown scenario '{args.Scenario}'");
                        return 2;
                }
                return 0;
            }
            catch (ScenarioFailure e)
            {
                Console.WriteLine($"rank {communicator.Rank}: FAILED: {e.Message}");
                return 1;
            }
            finally
            {
                Console.Out.Flush();
                communicator.Dispose();
            }
        }
    }
}
