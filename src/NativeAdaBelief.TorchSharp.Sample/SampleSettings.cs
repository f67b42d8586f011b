namespace NativeAdaBelief.TorchSharp.Sample;

/// <summary>The sample's command line.</summary>
internal sealed record SampleSettings(int Epochs, bool Quick, string Output, int BatchSize, bool Help)
{
    public const string Usage = """
        usage: NativeAdaBelief.TorchSharp.Sample [--epochs N] [--quick] [--output DIR]
          --epochs N     epochs per optimizer (default 2)
          --quick        2,000 training and 500 test images, one epoch
          --output DIR   where results.md and training-loss.png go (default artifacts/torchsharp-sample)
        """;

    public static SampleSettings Parse(string[] args)
    {
        var settings = new SampleSettings(2, false, Path.Combine("artifacts", "torchsharp-sample"), 64, false);
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            settings = args[i] switch
            {
                "--epochs" => settings with
                {
                    Epochs = int.TryParse(Next(), out int epochs) && epochs > 0
                        ? epochs
                        : throw new ArgumentException($"--epochs {args[i]}: expected a whole number of at least 1."),
                },
                "--quick" => settings with { Quick = true, Epochs = 1 },
                "--output" => settings with { Output = Next() },
                "--help" or "-h" => settings with { Help = true },
                _ => throw new ArgumentException($"unknown argument '{args[i]}'."),
            };
        }
        return settings;
    }
}
