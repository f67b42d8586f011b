// NativeAdaBelief.TorchSharp.Benchmarks [--mode full|quick|smoke] [--out FILE.md]
// Our step() beside TorchSharp's torch.optim.Adam and AdamW step() on the same TorchSharp models,
// interleaved round by round in one process, and the cost of finding the gradients' addresses.
// full: the 10M MLP and the 100M GPT-style model, writing its section of docs/benchmarks.md;
// quick and smoke: small models (smoke runs each thing once, so the program cannot rot).
using System.Globalization;
using NativeAdaBelief.TorchSharp;
using NativeAdaBelief.TorchSharp.Benchmarks;
using TorchSharp;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
string mode = "full";
string? output = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--mode" when i + 1 < args.Length: mode = args[++i]; break;
        case "--out" when i + 1 < args.Length: output = args[++i]; break;
        default:
            Console.Error.WriteLine("usage: NativeAdaBelief.TorchSharp.Benchmarks [--mode full|quick|smoke] [--out FILE.md]");
            return 2;
    }
}
if (mode is not ("full" or "quick" or "smoke"))
{
    Console.Error.WriteLine($"--mode {mode}: expected full, quick or smoke");
    return 2;
}

string loadBefore = Machine.LoadAverage();
Console.WriteLine($"TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch {torch.__version__}, {torch.get_num_threads()} torch threads, "
    + $"{Environment.ProcessorCount} cores, load average {loadBefore}; mode {mode}");
var results = new List<Comparison.Result>();
var addresses = new List<AddressCost.Result>();
foreach (Func<string, Workload> make in new Func<string, Workload>[] { Workload.Mlp, Workload.Gpt })
{
    Workload workload = make(mode);
    Console.WriteLine($"\n==> {workload.Name}: {workload.Parameters.Sum(p => p.numel()):N0} parameters in {workload.Parameters.Count} tensors");
    results.AddRange(Comparison.Run(workload));
    addresses.Add(AddressCost.Measure(workload, mode == "full" ? 200 : 5));
    workload.Model.Dispose();
}
string loadAfter = Machine.LoadAverage();
string section = Report.Section(mode, results, addresses, loadBefore, loadAfter);
Console.WriteLine();
Console.WriteLine(section);
if (output is not null)
{
    Report.WriteInto(output, section);
    Console.WriteLine($"==> wrote the TorchSharp section of {output}");
}
return 0;
