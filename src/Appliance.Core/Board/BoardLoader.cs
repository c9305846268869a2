using System.Collections.Immutable;
using Appliance.Core.Config;

namespace Appliance.Core.Board;

/// <summary>The outcome of reading a board profile: the profile, or every error (file:line:col of the profile).</summary>
public sealed record BoardResult(BoardProfile? Profile, ImmutableArray<ConfigError> Errors)
{
    public bool Ok => Profile is not null;
}

/// <summary>
/// Reads a board profile (board/*.yaml) with the option table in <see cref="BoardSchema"/>. Pure:
/// the caller reads the file. Nothing in the text makes it throw.
/// </summary>
public static class BoardLoader
{
    /// <summary>Most characters in a profile: a full 40-pin header with comments fits in a few KB.</summary>
    public const int MaxProfileChars = 64 * 1024;

    public static BoardResult Load(BoardText source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var diag = new Diagnostics(source.Path);
        var profile = Read(source, diag);
        var errors = diag.Errors.OrderBy(e => e.Line).ThenBy(e => e.Column).ToImmutableArray();
        return new BoardResult(errors.IsEmpty ? profile : null, errors);
    }

    private static BoardProfile? Read(BoardText source, Diagnostics diag)
    {
        if (source.Text.Length > MaxProfileChars)
        {
            diag.Add(SourcePosition.Start, "", $"the file has {source.Text.Length} characters; a board profile is at most {MaxProfileChars}");
            return null;
        }
        var root = YamlTree.Parse(source.Text, diag);
        if (root is null || root is YScalar { IsNull: true })
        {
            if (diag.Count == 0)
                diag.Add(root?.Start ?? SourcePosition.Start, "", $"the profile is empty; expected {BoardSchema.Root.Expected}");
            return null;
        }
        var top = MapReader.Open(root, BoardSchema.Root, "", diag);
        if (top is null)
            return null;

        var name = top.Get(BoardSchema.ProfileName);
        var description = top.Get(BoardSchema.Description);
        var chips = ConfigLoader.ReadNamedList(top.List(BoardSchema.Chips), BoardSchema.ChipName, "chip", diag,
            (r, n) => r.Get(BoardSchema.ChipPath) is { Ok: true } p && n.Ok ? new BoardChip(n.Value!, p.Value!) : null);
        var lines = chips is null ? null : ReadLines(top.List(BoardSchema.Lines), chips.Value, diag);
        BoardLcd? lcd = null;
        bool lcdOk = true;
        if (top.Has(BoardSchema.Lcd))
        {
            lcd = top.Section(BoardSchema.Lcd) is { } l && lines is not null ? ReadLcd(l, lines.Value, diag) : null;
            lcdOk = lcd is not null;
        }
        var serial = ReadRoles(top.Section(BoardSchema.Serial));
        var interfaces = ReadRoles(top.Section(BoardSchema.Interfaces));
        if (!name.Ok || !description.Ok || chips is null || lines is null || !lcdOk || serial is null || interfaces is null)
            return null;
        return new BoardProfile(name.Value!, source.Path, description.Value ?? "", chips.Value, lines.Value)
        {
            Lcd = lcd, Serial = serial, Interfaces = interfaces,
        };
    }

    private static ImmutableArray<BoardLine>? ReadLines(ListRead list, ImmutableArray<BoardChip> chips, Diagnostics diag)
    {
        var firstByLine = new Dictionary<(string, string), string>();
        return ConfigLoader.ReadNamedList(list, BoardSchema.LineName, "line", diag, (r, name) =>
        {
            var chip = r.Get(BoardSchema.LineChip);
            var line = r.Get(BoardSchema.LineLine);
            var use = r.Get(BoardSchema.LineUseOption);
            var activeLow = r.Get(BoardSchema.LineActiveLow);
            if (!chip.Ok || !line.Ok || !use.Ok || !activeLow.Ok || !name.Ok)
                return null;
            var found = chips.FirstOrDefault(c => c.Name == chip.Value);
            if (found is null)
            {
                string? guess = Suggest.Closest(chip.Value!, [.. chips.Select(c => c.Name)]);
                diag.Add(chip.Position, chip.Path, $"no chip named '{chip.Value}'" + (guess is null
                    ? chips.IsEmpty ? "; the profile has no chips" : $"; chips are {string.Join(", ", chips.Select(c => c.Name))}"
                    : $"; did you mean '{guess}'?"));
                return null;
            }
            if (!firstByLine.TryAdd((found.Name, line.Value!), r.Path))
            {
                diag.Add(line.Position, line.Path, $"line {line.Value} of chip {found.Name} is already named by {firstByLine[(found.Name, line.Value!)]}");
                return null;
            }
            return new BoardLine(name.Value!, found.Path, line.Value!, use.Value, activeLow.Value);
        });
    }

    private static BoardLcd? ReadLcd(MapReader r, ImmutableArray<BoardLine> lines, Diagnostics diag)
    {
        var wiring = r.Get(BoardSchema.Wiring);
        if (!wiring.Ok)
            return null;
        if (wiring.Value == LcdWiring.Pcf8574)
        {
            var bus = r.Get(BoardSchema.LcdBus);
            var address = r.Get(BoardSchema.LcdAddress);
            return bus.Ok && address.Ok ? new Pcf8574LcdWiring(bus.Value!, address.Value) : null;
        }
        var used = new Dictionary<string, string>(StringComparer.Ordinal);
        BoardLine? Pin(ScalarOption<string> option)
        {
            var f = r.Get(option);
            if (!f.Ok)
                return null;
            var line = lines.FirstOrDefault(l => l.Name == f.Value);
            if (line is null)
            {
                string? guess = Suggest.Closest(f.Value!, [.. lines.Where(l => l.Use == LineUse.Lcd).Select(l => l.Name)]);
                diag.Add(f.Position, f.Path, $"no line named '{f.Value}' in lines[]" + (guess is null ? "" : $"; did you mean '{guess}'?"));
                return null;
            }
            if (line.Use != LineUse.Lcd)
            {
                diag.Add(f.Position, f.Path, $"line '{line.Name}' is of use {Use(line.Use)}, not lcd");
                return null;
            }
            if (!used.TryAdd(line.Name, option.Name))
            {
                diag.Add(f.Position, f.Path, $"line '{line.Name}' is already the {used[line.Name]} pin");
                return null;
            }
            return line;
        }
        var rs = Pin(BoardSchema.LcdRs);
        var e = Pin(BoardSchema.LcdE);
        var d4 = Pin(BoardSchema.LcdD4);
        var d5 = Pin(BoardSchema.LcdD5);
        var d6 = Pin(BoardSchema.LcdD6);
        var d7 = Pin(BoardSchema.LcdD7);
        return rs is null || e is null || d4 is null || d5 is null || d6 is null || d7 is null ? null : new GpioLcdWiring(rs, e, d4, d5, d6, d7);
    }

    private static ImmutableDictionary<string, string>? ReadRoles(MapReader? r)
    {
        if (r is null)
            return null;
        var b = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        bool ok = true;
        foreach (var option in r.Schema.Options.OfType<ScalarOption<string>>())
        {
            var f = r.Get(option);
            ok &= f.Ok;
            if (f is { Ok: true, Present: true })
                b[option.Name] = f.Value!;
        }
        return ok ? b.ToImmutable() : null;
    }

    internal static string Use(LineUse use) => ((EnumType<LineUse>)BoardSchema.LineUseOption.Type).Format(use);
}
