using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests.Reliability;

/// <summary>
/// Saving to a file: leftovers of interrupted saves cleaned, names of any legal length, links
/// followed, read-only files kept, errors that name the path the user gave, and header limits that
/// a save and a load share.
/// </summary>
public sealed class CheckpointFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("nab-checkpoint-files-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string[] Temporaries() => [.. Directory.EnumerateFiles(_folder, ".nab-*.tmp").Select(Path.GetFileName)!];

    [Fact]
    public void A_later_save_removes_the_stale_temporaries_of_its_own_target_only()
    {
        using var rig = new TrainingRig(seed: 1);
        string path = Path.Combine(_folder, "run.safetensors");
        string otherPath = Path.Combine(_folder, "other.safetensors");
        // A save that fails while its process lives cleans up after itself.
        Assert.Throws<IOException>(() => CheckpointWriter.Save(rig.Optimizer, path, s => new CrashingStream(s)));
        Assert.Empty(Temporaries());
        // What saves whose process was killed leave: old and fresh ones of this target, and an old
        // one of another target.
        string own = TemporaryLike(path), other = TemporaryLike(otherPath);
        string stale = Path.Combine(_folder, own + "0000000000000001.tmp");
        string fresh = Path.Combine(_folder, own + "0000000000000002.tmp");
        string others = Path.Combine(_folder, other + "0000000000000003.tmp");
        foreach (string f in new[] { stale, fresh, others })
        {
            File.WriteAllBytes(f, new byte[1000]);
        }
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-2));
        File.SetLastWriteTimeUtc(others, DateTime.UtcNow.AddHours(-2));

        rig.Optimizer.SaveCheckpoint(path);
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(fresh), "a temporary file less than a minute old may be a save in progress");
        Assert.True(File.Exists(others), "another target's temporary file is that target's to clean");
        rig.Optimizer.LoadCheckpoint(path);
    }

    /// <summary>The temporary-name prefix the writer uses for <paramref name="target"/>, found by failing a save there.</summary>
    private static string TemporaryLike(string target)
    {
        using var rig = new TrainingRig(seed: 4);
        string? seen = null;
        Assert.Throws<IOException>(() => CheckpointWriter.Save(rig.Optimizer, target, s =>
        {
            seen = Path.GetFileName(((FileStream)s).Name);
            return new CrashingStream(s);
        }));
        return seen![..(seen!.LastIndexOf('-') + 1)];
    }

    [Fact]
    public void A_file_name_of_any_legal_length_can_be_saved_to()
    {
        using var rig = new TrainingRig(seed: 2);
        string path = Path.Combine(_folder, new string('n', 250) + ".ckpt"); // 255 bytes, the usual limit
        rig.Optimizer.SaveCheckpoint(path);
        rig.Optimizer.LoadCheckpoint(path);
        Assert.Empty(Temporaries());
    }

    [Fact]
    public void A_symbolic_link_is_followed_and_stays_a_link()
    {
        using var rig = new TrainingRig(seed: 3);
        string real = Path.Combine(_folder, "real.safetensors");
        File.WriteAllText(real, "old");
        string link = Path.Combine(_folder, "latest.safetensors");
        File.CreateSymbolicLink(link, real);
        rig.Optimizer.SaveCheckpoint(link);
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.NotEqual("old", File.ReadAllText(real)[..3]);
        rig.Optimizer.LoadCheckpoint(real);
    }

    [Fact]
    public void A_read_only_file_is_not_replaced()
    {
        using var rig = new TrainingRig(seed: 5);
        string path = Path.Combine(_folder, "kept.safetensors");
        File.WriteAllText(path, "keep me");
        File.SetAttributes(path, FileAttributes.ReadOnly);
        var e = Assert.Throws<UnauthorizedAccessException>(() => rig.Optimizer.SaveCheckpoint(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("read-only", e.Message, StringComparison.Ordinal);
        Assert.Equal("keep me", File.ReadAllText(path));
        Assert.Empty(Temporaries());
        File.SetAttributes(path, FileAttributes.Normal);
    }

    [Fact]
    public void A_missing_folder_is_named_as_the_user_wrote_it()
    {
        using var rig = new TrainingRig(seed: 6);
        string path = Path.Combine(_folder, "no-such-folder", "run.safetensors");
        var e = Assert.Throws<DirectoryNotFoundException>(() => rig.Optimizer.SaveCheckpoint(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(".tmp", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_save_never_writes_a_header_that_a_load_refuses()
    {
        using var rig = new TrainingRig(seed: 7);
        var stream = new MemoryStream();
        rig.Optimizer.SaveCheckpoint(stream);
        long headerBytes = BitConverter.ToInt64(stream.ToArray(), 0);

        // Exactly at the limit: written, and read back.
        var atLimit = new MemoryStream();
        CheckpointWriter.Save(rig.Optimizer, atLimit, maxHeaderBytes: headerBytes);
        CheckpointReader.Load(rig.Optimizer, new MemoryStream(atLimit.ToArray()), maxHeaderBytes: headerBytes);
        // One byte over: the save refuses before writing anything, as the load refuses the file.
        var over = new MemoryStream();
        Assert.Throws<NotSupportedException>(() => CheckpointWriter.Save(rig.Optimizer, over, maxHeaderBytes: headerBytes - 1));
        Assert.Equal(0, over.Length);
        Assert.Throws<InvalidDataException>(() =>
            CheckpointReader.Load(rig.Optimizer, new MemoryStream(atLimit.ToArray()), maxHeaderBytes: headerBytes - 1));
        Assert.Equal(100_000_000, CheckpointFormat.MaxHeaderBytes);
    }

    /// <summary>Fails every write after the first 100 bytes.</summary>
    private sealed class CrashingStream(Stream inner) : Stream
    {
        private long _written;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _written; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (_written + count > 100)
            {
                throw new IOException("simulated disk failure");
            }
            inner.Write(buffer, offset, count);
            _written += count;
        }
    }
}
