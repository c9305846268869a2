using Appliance.Core.Config;
using FsCheck;
using FsCheck.Fluent;

namespace Appliance.Core.Tests.Config;

/// <summary>Whatever the text, Load returns a result: a config, or errors with positions. It never throws.</summary>
public class ConfigFuzzTests
{
    private static readonly FsCheck.Config Quick = FsCheck.Config.QuickThrowOnFailure.WithMaxTest(1000);

    private static readonly char[] YamlChars = "{}[]:,-#&*!|>'\"%@`?~ \n\t\r\\az09._\u00e9\u0000\ufeff".ToCharArray();

    /// <summary>Values that are wrong in interesting ways, to splice over a token of a valid config.</summary>
    private static readonly string[] Tokens =
    [
        "", "~", "null", "[]", "{}", "[", "{", "- x", "&a", "*a", "*b", "!!str", "!!int 5", "? x", "|", ">",
        "200", "0ms", "-5ms", "1.5s", "1.0005s", "9999999999999999999999m", "0x10", "1e3", "true", "yes",
        "'quoted'", "\"x\\u0000\"", "239.1.1.1", "::", "fd00::1%eth0", "999.1.1.1", "udp", "serial", "gamma",
        "\n  extra: 1", "\n- dangling", "<<: *a", "%YAML 1.2\n---", "---", "...",
    ];

    private readonly record struct Mutation(int Op, int Position, int Length, char Char, string Token);

    private static readonly Gen<Mutation> MutationGen =
        from op in Gen.Choose(0, 5)
        from pos in Gen.Choose(0, 4000)
        from len in Gen.Choose(1, 40)
        from c in Gen.Elements(YamlChars)
        from token in Gen.Elements(Tokens)
        select new Mutation(op, pos, len, c, token);

    private static readonly Gen<string> MutatedYaml =
        from text in Gen.Elements(ConfigSamples.Base, ConfigSamples.DesignExample)
        from mutations in Gen.ArrayOf(MutationGen)
        select mutations.Aggregate(text, Apply);

    private static string Apply(string text, Mutation m)
    {
        int at = text.Length == 0 ? 0 : m.Position % (text.Length + 1);
        var lines = text.Split('\n').ToList();
        int line = m.Position % lines.Count;
        switch (m.Op)
        {
            case 0: // delete a run of characters
                return text.Remove(at, Math.Min(m.Length, text.Length - at));
            case 1: // insert a character
                return text.Insert(at, m.Char.ToString());
            case 2: // replace a run with a token
                return text.Remove(at, Math.Min(m.Length % 8, text.Length - at)).Insert(at, m.Token);
            case 3: // duplicate a line
                lines.Insert(line, lines[line]);
                return string.Join('\n', lines);
            case 4: // delete a line
                lines.RemoveAt(line);
                return string.Join('\n', lines);
            default: // replace the value after a "key: " with a token
                int colon = text.IndexOf(": ", at, StringComparison.Ordinal);
                if (colon < 0)
                    return text;
                int end = text.IndexOfAny([',', '}', '\n'], colon + 2);
                return text[..(colon + 2)] + m.Token + (end < 0 ? "" : text[end..]);
        }
    }

    private static bool WellFormed(string text, ConfigResult result)
    {
        if (result.Ok)
            return result.Errors.IsEmpty && result.Config is not null;
        // YAML breaks lines at \n, \r\n, \r and (YAML 1.1) U+0085, U+2028, U+2029.
        int lines = text.Count(c => c is '\n' or '\r' or '\u0085' or '\u2028' or '\u2029') + 2;
        bool ok = !result.Errors.IsEmpty
            && result.Errors.All(e => e.Line >= 1 && e.Column >= 1 && e.Line <= lines && e.Message.Length > 0 && e.File == "f.yaml")
            && result.Errors.Length <= ConfigLimits.MaxErrors + 1;
        Assert.True(ok, $"text {YScalarQuote(text)} gave:\n{string.Join("\n", result.Errors)}");
        return ok;
    }

    private static string YScalarQuote(string text) =>
        "\"" + string.Concat(text.Select(c => c < ' ' || c > '~' ? $"\\u{(int)c:x4}" : c.ToString())) + "\"";

    [Fact]
    public void Load_NeverThrows_OnRandomStrings()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<string>(), s =>
        {
            s ??= "";
            return WellFormed(s, ConfigLoader.Load("f.yaml", s));
        }).Check(Quick);
    }

    [Fact]
    public void Load_NeverThrows_OnMutatedConfigs()
    {
        Prop.ForAll(Arb.From(MutatedYaml), s => WellFormed(s, ConfigLoader.Load("f.yaml", s))).Check(Quick);
    }

    [Fact]
    public void Load_NeverThrows_OnRandomYamlishCharacters()
    {
        var yamlish = Gen.ArrayOf(Gen.Elements(YamlChars)).Select(cs => new string(cs));
        Prop.ForAll(Arb.From(yamlish), s => WellFormed(s, ConfigLoader.Load("f.yaml", s))).Check(Quick);
    }
}
