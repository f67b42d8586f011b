using System.Diagnostics;
using System.Globalization;
using NativeAdaBelief.Demo;
using NativeAdaBelief.Demo.Data;
using NativeAdaBelief.Demo.Model;
using NativeAdaBelief.Demo.Output;
using NativeAdaBelief.Demo.Paths;
using NativeAdaBelief.Demo.Training;
using NativeAdaBelief.Distributed;
using Spectre.Console;

return DemoApp.Run(args);

namespace NativeAdaBelief.Demo
{
    /// <summary>The demo program: parse, load, train, report.</summary>
    internal static class DemoApp
    {
        public const int ExitOk = 0;
        public const int ExitFailed = 1;
        public const int ExitUsage = 2;
        public const int ExitNoData = 3;
        public const int ExitNoDevice = 4;
        public const int ExitInterrupted = 130;

        /// <summary>Runs the demo with <paramref name="args"/>; returns the process exit code.</summary>
        public static int Run(string[] args, CancellationToken cancellation = default)
        {
            DemoSettings settings;
            try
            {
                settings = DemoSettings.Parse(args);
            }
            catch (UsageException e)
            {
                Console.Error.WriteLine("demo: " + e.Message);
                return ExitUsage;
            }
            if (settings.Help)
            {
                Console.WriteLine(DemoSettings.Usage);
                return ExitOk;
            }
            try
            {
                return Execute(settings, cancellation);
            }
            catch (UsageException e)
            {
                Console.Error.WriteLine("demo: " + e.Message);
                return ExitUsage;
            }
            catch (DataNotFoundException e)
            {
                Console.Error.WriteLine("demo: " + e.Message);
                return ExitNoData;
            }
            catch (DeviceUnavailableException e)
            {
                Console.Error.WriteLine("demo: " + e.Message);
                return ExitNoDevice;
            }
            catch (Exception e) when (e is NativeLibraryNotFoundException or InvalidDataException or FileNotFoundException
                or MpiLibraryNotFoundException or CommunicatorException)
            {
                Console.Error.WriteLine("demo: " + e.Message);
                return ExitFailed;
            }
        }

        private static int Execute(DemoSettings settings, CancellationToken external)
        {
            // --data-parallel: every rank trains; rank 0 alone reports and writes files.
            using Communicator? communicator = settings.DataParallel ? MpiCommunicator.Initialize() : null;
            TextWriter console = Console.Out;
            if (communicator is { Rank: > 0 })
            {
                Console.SetOut(TextWriter.Null);
            }
            try
            {
                return Execute(settings, communicator, external);
            }
            finally
            {
                Console.SetOut(console);
            }
        }

        private static int Execute(DemoSettings settings, Communicator? communicator, CancellationToken external)
        {
            var total = Stopwatch.StartNew();
            if (Console.IsOutputRedirected)
            {
                AnsiConsole.Profile.Width = 120; // a log is not an 80-column terminal
            }
            NativeAdaBeliefLibrary.EnsureLoaded();
            CheckDevice(settings.Device);

            RunCheckpoint? resume = settings.ResumePath is null ? null : RunCheckpoint.Load(settings.ResumePath);
            FashionMnist full = FashionMnist.Load(settings.DataDirectory);
            TrainingPlan plan = settings.ToPlan(
                Math.Min(settings.TrainLimit ?? full.TrainCount, full.TrainCount),
                Math.Min(settings.TestLimit ?? full.TestCount, full.TestCount),
                Mlp.FashionSizes);
            if (resume is not null)
            {
                plan = PlanForResume(resume.State.Plan, plan, settings.Explicit);
            }
            if (plan.TrainCount > full.TrainCount || plan.TestCount > full.TestCount)
            {
                throw new UsageException($"The checkpoint needs {plan.TrainCount} training and {plan.TestCount} test images; {full.Source} has fewer.");
            }
            if (communicator is not null)
            {
                CheckBatchSplit(plan, communicator.Size);
            }
            FashionMnist data = full.Slice(plan.TrainCount, plan.TestCount);
            string? checkpointPath = settings.CheckpointPath ?? settings.ResumePath;
            int threads = settings.Threads > 0 ? settings.Threads : Environment.ProcessorCount;

            string header = Header(plan, data, threads, settings, communicator);
            Console.WriteLine(header);
            Console.WriteLine();

            if (settings.CompareStateEncodings)
            {
                return CompareStateEncodings(settings, plan, data, threads, header, external, total);
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(external);
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                if (!stop.IsCancellationRequested)
                {
                    e.Cancel = true; // the first Ctrl+C stops cleanly (and saves a checkpoint); a second one kills
                    stop.Cancel();
                }
            };
            Console.CancelKeyPress += onCancel;
            TrainingResult result;
            try
            {
                var options = new TrainerOptions
                {
                    Threads = threads,
                    Device = settings.Device,
                    CheckpointPath = checkpointPath,
                    Resume = resume,
                    Communicator = communicator,
                };
                result = IsLive()
                    ? RunLive(plan, data, options, stop.Token)
                    : Trainer.Run(plan, data, options, new PlainProgress(Console.Out), stop.Token);
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }

            if (result.Interrupted)
            {
                Console.WriteLine(checkpointPath is null
                    ? "Stopped. (Run with --checkpoint PATH to be able to resume.)"
                    : $"Stopped. Continue with: --resume {checkpointPath}");
                return ExitInterrupted;
            }

            if (communicator is { Rank: > 0 })
            {
                return ExitOk; // rank 0 reports
            }
            Console.WriteLine();
            IReadOnlyList<ResultRow> rows = Report.Rows(result.State);
            AnsiConsole.Write(Report.ConsoleTable(rows, plan.PrecisionKind));

            // The optimizer paths on the 2-D test functions.
            var pathLines = new List<string>();
            var files = new List<string>();
            string output = settings.OutputDirectory;
            files.Add(Plots.TrainingLoss(result.State.Runs, plan.BatchesPerEpoch, output));
            files.Add(Plots.TestAccuracy(result.State.Runs, output));
            foreach (TestFunction function in TestFunction.All)
            {
                IReadOnlyList<OptimizerPath> paths = PathRunner.Run(function, OptimizerKinds.All);
                pathLines.Add(Report.PathSummary(function, paths));
                files.Add(Plots.OptimizerPaths(function, paths, output));
            }
            foreach (string line in pathLines)
            {
                Console.WriteLine(line);
            }
            files.AddRange(Report.WriteFiles(output, result.State, header, pathLines, files.ToList()));

            Console.WriteLine();
            Console.WriteLine("Files written:");
            foreach (string file in files)
            {
                Console.WriteLine("  " + file);
            }
            if (checkpointPath is not null)
            {
                Console.WriteLine("  " + Path.GetFullPath(checkpointPath) + " (checkpoint)");
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Done in {total.Elapsed.TotalSeconds:0.0} s."));
            return ExitOk;
        }

        /// <summary>--compare-state-encodings: the native optimizers with float32 and 8-bit state over several seeds.</summary>
        private static int CompareStateEncodings(DemoSettings settings, TrainingPlan plan, FashionMnist data, int threads, string header,
            CancellationToken external, Stopwatch total)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(external);
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                if (!stop.IsCancellationRequested)
                {
                    e.Cancel = true;
                    stop.Cancel();
                }
            };
            Console.CancelKeyPress += onCancel;
            List<EncodingRuns>? results;
            try
            {
                results = EncodingComparison.Run(plan, settings.Seeds, data, new TrainerOptions { Threads = threads, Device = settings.Device },
                    new PlainProgress(Console.Out), stop.Token);
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
            if (results is null)
            {
                Console.WriteLine("Stopped.");
                return ExitInterrupted;
            }
            Console.WriteLine();
            AnsiConsole.Write(EncodingReport.ConsoleTable(results, plan.BatchesPerEpoch));
            string seedsLine = string.Create(CultureInfo.InvariantCulture,
                $"Seeds {plan.Seed} to {plan.Seed + (ulong)settings.Seeds - 1}; every configuration of a seed starts from the same weights and data order.");
            string plot = Plots.StateEncodings(results, settings.OutputDirectory);
            string report = EncodingReport.Write(settings.OutputDirectory, header + Environment.NewLine + seedsLine, results,
                plan.BatchesPerEpoch, plot);
            Console.WriteLine();
            Console.WriteLine("Files written:");
            Console.WriteLine("  " + plot);
            Console.WriteLine("  " + report);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Done in {total.Elapsed.TotalSeconds:0.0} s."));
            return ExitOk;
        }

        /// <summary>A live display only on an interactive terminal; plain lines for logs and CI.</summary>
        private static bool IsLive() =>
            !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && AnsiConsole.Profile.Capabilities.Ansi;

        private static TrainingResult RunLive(TrainingPlan plan, FashionMnist data, TrainerOptions options, CancellationToken cancellation)
        {
            TrainingResult? result = null;
            AnsiConsole.Progress()
                .AutoClear(false)
                .HideCompleted(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                    new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context => result = Trainer.Run(plan, data, options, new LiveProgress(context), cancellation));
            return result!;
        }

        /// <summary>Every rank's part of every batch must hold at least one image.</summary>
        private static void CheckBatchSplit(TrainingPlan plan, int ranks)
        {
            int last = plan.TrainCount % plan.BatchSize;
            if (plan.BatchSize < ranks || (last != 0 && last < ranks))
            {
                throw new UsageException(
                    $"--data-parallel with {ranks} ranks splits every batch {ranks} ways: batches of {plan.BatchSize} over {plan.TrainCount} "
                    + $"images leave a batch smaller than that. Choose another --batch-size.");
            }
        }

        private static string Header(TrainingPlan plan, FashionMnist data, int threads, DemoSettings settings, Communicator? communicator)
        {
            long parameters = Mlp.FashionSizes.Zip(Mlp.FashionSizes.Skip(1), (a, b) => (long)a * b + b).Sum();
            string optimizers = string.Join(", ", plan.Optimizers.Select(name =>
            {
                OptimizerKinds.TryParse(name, out OptimizerKind kind);
                return $"{kind.DisplayName()} lr {OptimizerKinds.FormatRate(plan.LearningRates[name])}";
            }));
            return string.Join(Environment.NewLine,
                string.Create(CultureInfo.InvariantCulture,
                    $"NativeAdaBelief {NativeAdaBeliefLibrary.Version} ({NativeAdaBeliefLibrary.LoadedFrom}), CPU kernel {NativeAdaBeliefLibrary.BestSimdLevel}, {threads} thread(s), device {settings.Device.ToString().ToLowerInvariant()}"),
                string.Create(CultureInfo.InvariantCulture, $"Data: {data.Source}: {data.TrainCount} training, {data.TestCount} test images"),
                string.Create(CultureInfo.InvariantCulture,
                    $"Model: MLP {string.Join("-", plan.Sizes)} ({parameters:N0} parameters in {2 * (plan.Sizes.Count - 1)} native buffers), {plan.Epochs} epoch(s) of {plan.BatchesPerEpoch} batches of {plan.BatchSize}, seed {plan.Seed}"),
                "Precision: " + plan.PrecisionKind.Describe(),
                "Optimizer state: " + (settings.CompareStateEncodings
                    ? string.Join(" and ", StateEncodings.All.Select(e => e.DisplayName())) + " (--compare-state-encodings)"
                    : plan.StateEncodingKind.DisplayName()),
                "Optimizers: " + optimizers)
                + (communicator is null
                    ? ""
                    : Environment.NewLine + string.Create(CultureInfo.InvariantCulture,
                        $"Data-parallel: {communicator.Description}; each rank computes 1/{communicator.Size} of every batch, the optimizer state is sharded across them (ZeRO-1)"));
        }

        /// <summary>The checkpoint's plan, unless an option given now contradicts it.</summary>
        internal static TrainingPlan PlanForResume(TrainingPlan saved, TrainingPlan requested, IReadOnlySet<string> given)
        {
            var conflicts = new List<string>();
            void Check(string option, bool differs, string savedValue)
            {
                if (given.Contains(option) && differs)
                {
                    conflicts.Add($"--{option} (the checkpoint has {savedValue})");
                }
            }
            Check("optimizer", !saved.Optimizers.SequenceEqual(requested.Optimizers), string.Join(",", saved.Optimizers));
            Check("epochs", saved.Epochs != requested.Epochs, saved.Epochs.ToString(CultureInfo.InvariantCulture));
            Check("batch-size", saved.BatchSize != requested.BatchSize, saved.BatchSize.ToString(CultureInfo.InvariantCulture));
            Check("seed", saved.Seed != requested.Seed, saved.Seed.ToString(CultureInfo.InvariantCulture));
            Check("lr", !saved.LearningRates.OrderBy(p => p.Key).SequenceEqual(requested.LearningRates.OrderBy(p => p.Key)),
                string.Join(",", saved.LearningRates.Select(p => $"{p.Key} {p.Value.ToString(CultureInfo.InvariantCulture)}")));
            Check("quick", saved.TrainCount != requested.TrainCount || saved.TestCount != requested.TestCount,
                $"{saved.TrainCount} training and {saved.TestCount} test images");
            Check("train-images", saved.TrainCount != requested.TrainCount, $"{saved.TrainCount} training images");
            Check("test-images", saved.TestCount != requested.TestCount, $"{saved.TestCount} test images");
            Check("precision", saved.Precision != requested.Precision, saved.Precision);
            Check("state-encoding", saved.StateEncoding != requested.StateEncoding, saved.StateEncoding);
            if (conflicts.Count > 0)
            {
                throw new UsageException("--resume continues the run the checkpoint was made for; these options contradict it: "
                    + string.Join("; ", conflicts) + ". Leave them out (the checkpoint's settings are used).");
            }
            return saved;
        }

        private static void CheckDevice(DeviceType device)
        {
            if (device == DeviceType.Cpu)
            {
                return;
            }
            if (!CudaDevice.IsAvailable)
            {
                throw new DeviceUnavailableException(
                    "--device cuda: no CUDA device is available (no NVIDIA GPU or driver here, or the native library was built "
                    + "without its CUDA backend: ./build.sh builds it when nvcc is found). Run with --device cpu (the default).");
            }
            try
            {
                using var probe = new AdaBeliefOptimizer(new OptimizerConfig { Device = DeviceType.Cuda });
            }
            catch (Exception e) when (e is NotSupportedException or NativeAdaBeliefException or ArgumentException)
            {
                throw new DeviceUnavailableException($"--device cuda: CUDA is not usable here: {e.Message} Run with --device cpu (the default).");
            }
        }
    }

    /// <summary>The requested device cannot be used.</summary>
    internal sealed class DeviceUnavailableException(string message) : Exception(message);
}
