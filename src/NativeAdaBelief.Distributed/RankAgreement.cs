using System.Text;

namespace NativeAdaBelief.Distributed;

/// <summary>
/// Makes every rank take the same decision where one rank alone could fail (its arguments, its
/// files, its memory): each rank contributes its outcome, every rank receives all of them, and
/// every rank throws the same exception, with the same message, when any rank failed. The
/// exchange has a fixed shape (lengths first, then the bytes), so a rank that differs cannot
/// make the others wait for a collective it will not join.
/// </summary>
internal static class RankAgreement
{
    /// <summary>
    /// Every rank's model description (lines) or local error: throws on every rank, with the same
    /// message, when a rank refused its arguments or the descriptions differ.
    /// </summary>
    /// <exception cref="ArgumentException">A rank refused its arguments, or the ranks describe different models.</exception>
    internal static void AgreeOnModel(Communicator communicator, string? localError, IReadOnlyList<string> description)
    {
        byte[][] all = communicator.Exchange(Encode(localError, string.Join('\n', description)));
        Failure? failure = FirstFailure(all);
        if (failure is { } f)
        {
            throw new ArgumentException(
                $"Rank {f.Rank} of {all.Length} refused the optimizer's arguments, so every rank refuses them: {f.Message}");
        }
        string[] reference = Decode(all[0]).Text.Split('\n');
        for (int r = 1; r < all.Length; r++)
        {
            string[] lines = Decode(all[r]).Text.Split('\n');
            for (int i = 0; i < Math.Max(reference.Length, lines.Length); i++)
            {
                string mine = i < reference.Length ? reference[i] : "(nothing)";
                string theirs = i < lines.Length ? lines[i] : "(nothing)";
                if (mine != theirs)
                {
                    throw new ArgumentException(
                        $"The ranks do not describe the same model, so every rank refuses it: rank 0 has '{mine}' where rank {r} has "
                        + $"'{theirs}'. Every rank must create the same ParameterSpace and parameter groups.");
                }
            }
        }
    }

    /// <summary>
    /// Every rank's outcome of a step that may fail on one rank only: when any failed, throws on
    /// every rank the exception <paramref name="create"/> makes of the first failing rank's
    /// message (with this rank's own exception inside, where it is the one that failed).
    /// </summary>
    internal static void Agree(Communicator communicator, Exception? localFailure, Func<string, Exception?, Exception> create)
    {
        byte[][] all = communicator.Exchange(Encode(localFailure?.Message, ""));
        if (FirstFailure(all) is { } f)
        {
            throw create($"rank {f.Rank} of {all.Length}: {f.Message}", f.Rank == communicator.Rank ? localFailure : null);
        }
    }

    /// <summary>Every rank's yes or no (for example: whether it holds something to share), in rank order.</summary>
    internal static bool[] Flags(Communicator communicator, bool mine)
    {
        byte[][] all = communicator.Exchange([mine ? (byte)1 : (byte)0]);
        return [.. all.Select(bytes => bytes[0] != 0)];
    }

    private readonly record struct Failure(int Rank, string Message);

    private static Failure? FirstFailure(byte[][] all)
    {
        for (int r = 0; r < all.Length; r++)
        {
            (bool failed, string text) = Decode(all[r]);
            if (failed)
            {
                return new Failure(r, text);
            }
        }
        return null;
    }

    private static byte[] Encode(string? error, string text) =>
        [error is null ? (byte)0 : (byte)1, .. Encoding.UTF8.GetBytes(error ?? text)];

    private static (bool Failed, string Text) Decode(byte[] bytes) =>
        (bytes.Length > 0 && bytes[0] == 1, Encoding.UTF8.GetString(bytes, Math.Min(1, bytes.Length), Math.Max(0, bytes.Length - 1)));
}
