using System.Globalization;
using System.Text;

namespace NativeAdaBelief.Tests.Support;

/// <summary>One tensor of a scenario.</summary>
public sealed record ScenarioTensor(int Group, int Length, MemoryKind Memory);

/// <summary>
/// A run to compare: groups, tensors, a number of steps, and a seed from which the parameters,
/// gradients, absent-gradient steps and learning-rate changes are drawn. Optionally the groups'
/// options are replaced halfway (<see cref="OptionsLater"/>), as a scheduler or user may.
/// </summary>
public sealed record ParityScenario(
    AdaBeliefOptions[] Groups,
    ScenarioTensor[] Tensors,
    int Steps,
    int Seed,
    double GradientPresence = 1.0,
    double LearningRateChange = 0.0,
    AdaBeliefOptions[]? OptionsLater = null,
    int ThreadCount = 0)
{
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"steps={Steps} seed={Seed} presence={GradientPresence} lrChange={LearningRateChange} threads={ThreadCount}\n");
        for (int g = 0; g < Groups.Length; g++)
        {
            text.Append(CultureInfo.InvariantCulture, $"  group {g}: {Groups[g]}\n");
            if (OptionsLater is not null)
            {
                text.Append(CultureInfo.InvariantCulture, $"    later: {OptionsLater[g]}\n");
            }
        }
        foreach (ScenarioTensor t in Tensors)
        {
            text.Append(CultureInfo.InvariantCulture, $"  tensor: group {t.Group}, {t.Length} elements, {t.Memory}\n");
        }
        return text.ToString();
    }
}
