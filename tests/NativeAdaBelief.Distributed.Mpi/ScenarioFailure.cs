using System.Security.Cryptography;
using System.Text;

namespace NativeAdaBelief.Distributed.Mpi;

/// <summary>A check of a scenario failed on this rank (the program prints it and exits 1).</summary>
internal sealed class ScenarioFailure(string message) : Exception(message)
{
    /// <summary>Fails unless <paramref name="condition"/>.</summary>
    internal static void Require(bool condition, string what)
    {
        if (!condition)
        {
            throw new ScenarioFailure(what);
        }
    }

    /// <summary>True when every rank passed the same <paramref name="text"/> (compared through rank 0's SHA-256).</summary>
    internal static bool SameOnEveryRank(Communicator communicator, string text)
    {
        byte[] mine = SHA256.HashData(Encoding.UTF8.GetBytes(text));
        byte[] rootHash = (byte[])mine.Clone();
        communicator.Broadcast(rootHash, root: 0);
        Span<double> differing = [mine.AsSpan().SequenceEqual(rootHash) ? 0 : 1];
        communicator.AllReduceSum(differing);
        return differing[0] == 0;
    }
}
