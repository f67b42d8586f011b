using System.Buffers.Binary;
using System.IO.Compression;

namespace NativeAdaBelief.Demo.Data;

/// <summary>
/// Fashion-MNIST (Zalando, MIT): 60,000 training and 10,000 test images of 28×28 grey pixels in
/// 10 classes, read from the four IDX files (gzip-compressed or not) that Debian's
/// <c>dataset-fashion-mnist</c> package installs under <see cref="DebianDirectory"/>.
/// </summary>
internal sealed class FashionMnist
{
    /// <summary>Pixels per image.</summary>
    public const int Pixels = 28 * 28;

    /// <summary>Number of classes.</summary>
    public const int Classes = 10;

    /// <summary>Where <c>apt-get install dataset-fashion-mnist</c> puts the files.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The environment variable that points at another folder holding the files.</summary>
    public const string DirectoryVariable = "FASHION_MNIST_DIR";

    /// <summary>The class names, by label.</summary>
    public static readonly string[] ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    // Mean and standard deviation of the training pixels (scaled to [0, 1]).
    private const float Mean = 0.2860f;
    private const float StdDev = 0.3530f;

    private static readonly float[] Normalized = BuildNormalization();

    /// <summary>Creates a data set from raw bytes (one byte per pixel, one label per image).</summary>
    public FashionMnist(byte[] trainImages, byte[] trainLabels, byte[] testImages, byte[] testLabels, string source)
    {
        if (trainImages.Length != trainLabels.Length * Pixels || testImages.Length != testLabels.Length * Pixels)
        {
            throw new ArgumentException("Image and label counts differ.");
        }
        TrainImages = trainImages;
        TrainLabels = trainLabels;
        TestImages = testImages;
        TestLabels = testLabels;
        Source = source;
    }

    /// <summary>Training images, <see cref="Pixels"/> bytes each.</summary>
    public byte[] TrainImages { get; }

    /// <summary>Training labels, 0..9.</summary>
    public byte[] TrainLabels { get; }

    /// <summary>Test images.</summary>
    public byte[] TestImages { get; }

    /// <summary>Test labels.</summary>
    public byte[] TestLabels { get; }

    /// <summary>Where the data came from (a folder, or a description).</summary>
    public string Source { get; }

    /// <summary>Number of training images.</summary>
    public int TrainCount => TrainLabels.Length;

    /// <summary>Number of test images.</summary>
    public int TestCount => TestLabels.Length;

    /// <summary>The folders searched, in order, when no folder is given.</summary>
    public static IReadOnlyList<string> DefaultDirectories()
    {
        var list = new List<string>();
        string? fromEnvironment = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            list.Add(fromEnvironment);
        }
        list.Add(DebianDirectory);
        return list;
    }

    /// <summary>Loads the data from <paramref name="directory"/>, or from the first default folder that has it.</summary>
    /// <exception cref="DataNotFoundException">No folder holds all four files; the message lists where it looked.</exception>
    /// <exception cref="InvalidDataException">A file is not a valid IDX file of the expected shape.</exception>
    public static FashionMnist Load(string? directory = null)
    {
        IReadOnlyList<string> candidates = directory is null ? DefaultDirectories() : [directory];
        var looked = new List<string>();
        foreach (string folder in candidates)
        {
            string? trainImages = Find(folder, "train-images-idx3-ubyte", looked);
            string? trainLabels = Find(folder, "train-labels-idx1-ubyte", looked);
            string? testImages = Find(folder, "t10k-images-idx3-ubyte", looked);
            string? testLabels = Find(folder, "t10k-labels-idx1-ubyte", looked);
            if (trainImages is null || trainLabels is null || testImages is null || testLabels is null)
            {
                continue;
            }
            return new FashionMnist(
                ReadIdx(trainImages, 3), ReadIdx(trainLabels, 1), ReadIdx(testImages, 3), ReadIdx(testLabels, 1),
                Path.GetFullPath(folder));
        }
        throw new DataNotFoundException(looked);
    }

    private static string? Find(string folder, string name, List<string> looked)
    {
        foreach (string candidate in new[] { name + ".gz", name })
        {
            string path = Path.Combine(folder, candidate);
            if (File.Exists(path))
            {
                return path;
            }
            looked.Add(path);
        }
        return null;
    }

    /// <summary>Reads an IDX file of unsigned bytes (images: 3 dimensions of 28×28; labels: 1).</summary>
    internal static byte[] ReadIdx(string path, int dimensions)
    {
        using FileStream file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        Span<byte> header = stackalloc byte[4];
        stream.ReadExactly(header);
        // Magic: two zero bytes, the type (0x08 = unsigned byte) and the number of dimensions.
        if (header[0] != 0 || header[1] != 0 || header[2] != 0x08 || header[3] != dimensions)
        {
            throw new InvalidDataException(
                $"{path} is not an IDX file of unsigned bytes with {dimensions} dimension(s) (header {Convert.ToHexString(header)}).");
        }
        Span<byte> sizes = stackalloc byte[4 * dimensions];
        stream.ReadExactly(sizes);
        long count = 1;
        for (int d = 0; d < dimensions; d++)
        {
            int size = BinaryPrimitives.ReadInt32BigEndian(sizes[(4 * d)..]);
            if (size <= 0 || (d > 0 && size != 28))
            {
                throw new InvalidDataException($"{path}: dimension {d} has size {size}; expected 28×28 images.");
            }
            count *= size;
        }
        var data = new byte[count];
        try
        {
            stream.ReadExactly(data);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{path} is truncated: its header promises {count} bytes of data.");
        }
        if (dimensions == 1 && data.Any(label => label >= Classes))
        {
            throw new InvalidDataException($"{path} holds a label outside 0..{Classes - 1}.");
        }
        return data;
    }

    /// <summary>Writes an IDX file (gzip-compressed when the name ends in .gz); for tests and tools.</summary>
    internal static void WriteIdx(string path, byte[] data, params int[] shape)
    {
        using FileStream file = File.Create(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionLevel.Fastest) : file;
        stream.Write([0, 0, 0x08, (byte)shape.Length]);
        Span<byte> size = stackalloc byte[4];
        foreach (int dimension in shape)
        {
            BinaryPrimitives.WriteInt32BigEndian(size, dimension);
            stream.Write(size);
        }
        stream.Write(data);
    }

    /// <summary>The first <paramref name="trainCount"/> training and <paramref name="testCount"/> test images.</summary>
    public FashionMnist Slice(int trainCount, int testCount)
    {
        trainCount = Math.Clamp(trainCount, 1, TrainCount);
        testCount = Math.Clamp(testCount, 1, TestCount);
        if (trainCount == TrainCount && testCount == TestCount)
        {
            return this;
        }
        return new FashionMnist(
            TrainImages.AsSpan(0, trainCount * Pixels).ToArray(), TrainLabels.AsSpan(0, trainCount).ToArray(),
            TestImages.AsSpan(0, testCount * Pixels).ToArray(), TestLabels.AsSpan(0, testCount).ToArray(),
            $"{Source} (first {trainCount} training and {testCount} test images)");
    }

    /// <summary>
    /// A small synthetic stand-in with the same shape (each class a noisy blob at its own place),
    /// for tests that must not depend on the Debian package.
    /// </summary>
    public static FashionMnist Synthetic(int trainCount, int testCount, ulong seed)
    {
        var random = new Model.DeterministicRandom(seed, 77);
        (byte[] images, byte[] labels) Make(int count)
        {
            var images = new byte[count * Pixels];
            var labels = new byte[count];
            for (int i = 0; i < count; i++)
            {
                int label = random.NextInt(Classes);
                labels[i] = (byte)label;
                int centerX = 4 + (label % 5) * 5, centerY = 6 + (label / 5) * 14;
                for (int y = 0; y < 28; y++)
                {
                    for (int x = 0; x < 28; x++)
                    {
                        int d2 = (x - centerX) * (x - centerX) + (y - centerY) * (y - centerY);
                        double value = 255 * Math.Exp(-d2 / 18.0) + 60 * random.NextDouble();
                        images[i * Pixels + y * 28 + x] = (byte)Math.Min(255, value);
                    }
                }
            }
            return (images, labels);
        }
        (byte[] trainImages, byte[] trainLabels) = Make(trainCount);
        (byte[] testImages, byte[] testLabels) = Make(testCount);
        return new FashionMnist(trainImages, trainLabels, testImages, testLabels, "synthetic");
    }

    /// <summary>
    /// Copies the images <paramref name="indices"/> of <paramref name="images"/> into
    /// <paramref name="destination"/> as normalized floats ((pixel/255 − mean)/std), one row each.
    /// </summary>
    public static void Gather(byte[] images, ReadOnlySpan<int> indices, Span<float> destination)
    {
        float[] table = Normalized;
        for (int row = 0; row < indices.Length; row++)
        {
            ReadOnlySpan<byte> source = images.AsSpan(indices[row] * Pixels, Pixels);
            Span<float> target = destination.Slice(row * Pixels, Pixels);
            for (int i = 0; i < Pixels; i++)
            {
                target[i] = table[source[i]];
            }
        }
    }

    private static float[] BuildNormalization()
    {
        var table = new float[256];
        for (int value = 0; value < 256; value++)
        {
            table[value] = (value / 255f - Mean) / StdDev;
        }
        return table;
    }
}

/// <summary>The Fashion-MNIST files were not found; the message says where the demo looked and how to get them.</summary>
internal sealed class DataNotFoundException : Exception
{
    /// <summary>Creates the exception from the paths that were tried.</summary>
    public DataNotFoundException(IReadOnlyList<string> looked)
        : base(BuildMessage(looked))
    {
        Looked = looked;
    }

    /// <summary>Every file path that was tried.</summary>
    public IReadOnlyList<string> Looked { get; }

    private static string BuildMessage(IReadOnlyList<string> looked) =>
        "Fashion-MNIST was not found. Looked for:" + Environment.NewLine
        + string.Join(Environment.NewLine, looked.Select(path => "  " + path)) + Environment.NewLine
        + $"Install Debian's package (sudo apt-get install dataset-fashion-mnist; './build.sh demo' does this when run as root), "
        + $"or put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz "
        + $"in a folder and pass --data FOLDER (or set {FashionMnist.DirectoryVariable}).";
}
