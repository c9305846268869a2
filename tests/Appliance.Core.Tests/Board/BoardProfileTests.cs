using Appliance.Core.Board;
using Appliance.Core.Config;
using Appliance.Core.Panel;
using Appliance.Core.Tests.Architecture;
using Appliance.Core.Tests.Config;

namespace Appliance.Core.Tests.Board;

/// <summary>
/// The shipped board profiles (board/*.yaml) load; a bad profile and a panel that does not fit its
/// board give file:line:col errors (the profile's own file for the profile, the config's for the panel).
/// </summary>
public class BoardProfileTests
{
    private static string BoardDir => Path.Combine(CoreIsSansIoTests.RepoRoot(), "board");

    /// <summary>The shipped profiles by name, plus extra texts by name, without touching any other directory.</summary>
    private static BoardCatalog Catalog(string? over = null, params (string Name, string Text)[] extra) => new(reference =>
    {
        foreach (var (name, text) in extra)
            if (name == reference)
                return new BoardText(name.StartsWith('/') ? name : name + ".yaml", text);
        string path = reference.StartsWith('/') ? reference : Path.Combine(BoardDir, reference + ".yaml");
        return File.Exists(path) ? new BoardText(path, File.ReadAllText(path)) : null;
    }, over, "board/");

    public static TheoryData<string> Shipped() => new(Directory.GetFiles(BoardDir, "*.yaml").Select(Path.GetFileNameWithoutExtension)!);

    [Theory]
    [MemberData(nameof(Shipped))]
    public void Shipped_profile_loads_and_is_named_after_its_file(string name)
    {
        string path = Path.Combine(BoardDir, name + ".yaml");
        var result = BoardLoader.Load(new BoardText(path, File.ReadAllText(path)));
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        Assert.Equal(name, result.Profile!.Name);
    }

    [Fact]
    public void The_three_profiles_the_issue_asks_for_are_there()
    {
        string[] names = [.. Directory.GetFiles(BoardDir, "*.yaml").Select(f => Path.GetFileNameWithoutExtension(f)).Order(StringComparer.Ordinal)];
        Assert.Equal(["generic-x86", "lab", "rpi4"], names);
    }

    [Fact]
    public void Rpi4_uses_the_headers_documented_line_names()
    {
        string path = Path.Combine(BoardDir, "rpi4.yaml");
        var board = BoardLoader.Load(new BoardText(path, File.ReadAllText(path))).Profile!;
        Assert.All(board.Lines, l => Assert.Matches("^GPIO([0-9]|1[0-9]|2[0-7])$", l.Line));
        Assert.Equal(new BoardLine("led-act", "/dev/gpiochip0", "GPIO6", LineUse.Led, true), board.FindLine("led-act"));
        Assert.Equal(new Pcf8574LcdWiring("/dev/i2c-1", 0x27), board.Lcd);
    }

    public sealed record BadProfile(string Name, string Text, string[] Expected);

    public static readonly BadProfile[] BadProfiles =
    [
        new("unknown chip", "name: x\nchips: [{name: main, path: /dev/gpiochip0}]\nlines:\n  - {name: led-a, chip: mian, line: 3, use: led}\n",
            ["x.yaml:4:25: lines[0].chip: no chip named 'mian'; did you mean 'main'?"]),
        new("one line named twice", "name: x\nchips: [{name: main, path: /dev/gpiochip0}]\nlines:\n  - {name: led-a, chip: main, line: 3, use: led}\n  - {name: led-b, chip: main, line: 3, use: led}\n",
            ["x.yaml:5:37: lines[1].line: line 3 of chip main is already named by lines[0]"]),
        new("bad use", "name: x\nchips: [{name: main, path: /dev/gpiochip0}]\nlines: [{name: led-a, chip: main, line: 3, use: lamp}]\n",
            ["x.yaml:3:49: lines[0].use: expected led, button, relay, lcd or other, got 'lamp'"]),
        new("lcd pin that is not an lcd line", "name: x\nchips: [{name: main, path: /dev/gpiochip0}]\nlines: [{name: a, chip: main, line: 1, use: led}]\nlcd: {wiring: gpio4, rs: a, e: b, d4: c, d5: d, d6: e, d7: f}\n",
            ["x.yaml:4:26: lcd.rs: line 'a' is of use led, not lcd", "x.yaml:4:32: lcd.e: no line named 'b' in lines[]",
             "x.yaml:4:39: lcd.d4: no line named 'c' in lines[]", "x.yaml:4:46: lcd.d5: no line named 'd' in lines[]",
             "x.yaml:4:53: lcd.d6: no line named 'e' in lines[]", "x.yaml:4:60: lcd.d7: no line named 'f' in lines[]"]),
        new("i2c address out of range", "name: x\nlcd: {wiring: pcf8574, bus: /dev/i2c-1, address: 200}\n",
            ["x.yaml:2:50: lcd.address: address (200) must be from 3 to 119"]),
        new("no name", "description: nothing\n", ["x.yaml:1:1: name: required key is missing; expected a name of 1 to 32 characters a-z, 0-9 or '-', starting with a letter"]),
    ];

    public static TheoryData<string> BadProfileNames() => new(BadProfiles.Select(b => b.Name));

    [Theory]
    [MemberData(nameof(BadProfileNames))]
    public void Bad_profile_gives_exactly_these_errors(string name)
    {
        var c = BadProfiles.Single(b => b.Name == name);
        var result = BoardLoader.Load(new BoardText("x.yaml", c.Text));
        Assert.False(result.Ok);
        Assert.Equal(c.Expected, result.Errors.Select(e => e.ToString()));
    }

    private const string PanelOnLab = """

        board: lab
        panel:
          leds: {power: led-pwr, active: led-act, peer: led-peer, fault: led-fault}
          lcd: {kind: hd44780, size: 16x2}
          buttons: {select: btn-sel, next: btn-next, prev: btn-prev}

        """;

    private static ConfigResult LoadWith(string extra, BoardCatalog? catalog) =>
        ConfigLoader.Load(ConfigSamples.File, ConfigSamples.Base + extra, catalog);

    [Fact]
    public void Panel_on_the_lab_board_resolves_every_role_to_a_line()
    {
        var result = LoadWith(PanelOnLab, Catalog());
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        var panel = result.Config!.Panel!;
        Assert.Equal("lab", result.Config.Board!.Name);
        Assert.Equal("LED_ACT", panel.Leds.Active!.Line);
        Assert.Equal("BTN_SEL", panel.Buttons.Select!.Line);
        Assert.Equal(LcdSize.Size16x2, panel.Lcd!.Size);
        Assert.IsType<GpioLcdWiring>(panel.Lcd.Wiring);
        Assert.Equal(TimeSpan.FromSeconds(3), panel.Timings.Hold);
        Assert.Equal(TimeSpan.FromMilliseconds(20), panel.Timings.Debounce);
        Assert.Equal(TimeSpan.FromSeconds(30), panel.Timings.Stuck);
    }

    [Fact]
    public void Panel_debounce_and_stuck_are_read()
    {
        var result = LoadWith("\nboard: lab\npanel: {hold: 2s, debounce: 5ms, stuck: 8s}\n", Catalog());
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        var t = result.Config!.Panel!.Timings;
        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(8)), (t.Hold, t.Debounce, t.Stuck));
        Assert.Equal(TimeSpan.Zero, LoadWith("\nboard: lab\npanel: {debounce: 0ms}\n", Catalog()).Config!.Panel!.Timings.Debounce);
    }

    [Fact]
    public void Board_override_wins_and_must_agree_with_the_config()
    {
        var ok = LoadWith(PanelOnLab, Catalog("/tmp/lab-alpha.yaml", ("/tmp/lab-alpha.yaml", File.ReadAllText(Path.Combine(BoardDir, "lab.yaml")))));
        Assert.True(ok.Ok, string.Join("\n", ok.Errors));
        Assert.Equal("/tmp/lab-alpha.yaml", ok.Config!.Board!.SourcePath);

        var bad = LoadWith(PanelOnLab, Catalog("rpi4"));
        Assert.Equal(["appliance.yaml:31:8: board: the config names board 'lab' but applianced --board gives board 'rpi4' (" + Path.Combine(BoardDir, "rpi4.yaml") + ")"],
            bad.Errors.Select(e => e.ToString()));
    }

    public sealed record BadPanel(string Name, string Extra, string[] Expected, bool NoCatalog = false);

    public static readonly BadPanel[] BadPanels =
    [
        new("panel without a board", "\npanel:\n  leds: {active: led-act}\n",
            ["appliance.yaml:32:3: panel: a panel needs a board profile: set `board` (like `board: lab`) or start applianced with --board"]),
        new("unknown board", "\nboard: lab2\n",
            ["appliance.yaml:31:8: board: no board profile 'lab2' (looked for lab2.yaml in board/)"]),
        new("no catalog", "\nboard: lab\n",
            ["appliance.yaml:31:8: board: board profiles cannot be read here; check this config with `appliancectl config check`"], NoCatalog: true),
        new("typo in an led line", "\nboard: lab\npanel:\n  leds: {active: led-atc}\n",
            ["appliance.yaml:33:18: panel.leds.active: board 'lab' has no line 'led-atc'; did you mean 'led-act'?"]),
        new("a button as an led", "\nboard: lab\npanel:\n  leds: {fault: btn-sel}\n",
            ["appliance.yaml:33:17: panel.leds.fault: line 'btn-sel' of board 'lab' is of use button, not led"]),
        new("one line twice", "\nboard: lab\npanel:\n  leds: {active: led-act, peer: led-act}\n",
            ["appliance.yaml:33:33: panel.leds.peer: line 'led-act' is already used by panel.leds.active"]),
        new("lcd on a board without one", "\nboard: /b/nolcd.yaml\npanel:\n  lcd: {size: 16x2}\n",
            ["appliance.yaml:33:8: panel.lcd: board 'nolcd' (/b/nolcd.yaml) has no lcd"]),
        new("bad lcd size", "\nboard: lab\npanel:\n  lcd: {size: 40x2}\n",
            ["appliance.yaml:33:15: panel.lcd.size: expected 16x2 or 20x4, got '40x2'"]),
        new("hold too short", "\nboard: lab\npanel: {hold: 100ms}\n",
            ["appliance.yaml:32:15: panel.hold: hold (100ms) must be at least 1s"]),
        new("debounce too long", "\nboard: lab\npanel: {debounce: 1s}\n",
            ["appliance.yaml:32:19: panel.debounce: debounce (1s) must be at most 100ms"]),
        new("stuck not longer than hold", "\nboard: lab\npanel: {hold: 6s, stuck: 6s}\n",
            ["appliance.yaml:32:26: panel.stuck: stuck (6s) must be longer than hold (6s): a button held for the hold would count as stuck first"]),
        new("stuck too short", "\nboard: lab\npanel: {stuck: 1s}\n",
            ["appliance.yaml:32:16: panel.stuck: stuck (1s) must be at least 5s"]),
        new("bad profile", "\nboard: /b/bad.yaml\n",
            ["appliance.yaml:31:8: board: board profile /b/bad.yaml has errors", "/b/bad.yaml:1:7: name: expected a name of 1 to 32 characters a-z, 0-9 or '-', starting with a letter, got 'Bad Board'"]),
        new("board named otherwise", "\nboard: rpi4\n", ["appliance.yaml:31:8: board: board profile rpi4.yaml is named 'lab', not 'rpi4'"]),
    ];

    public static TheoryData<string> BadPanelNames() => new(BadPanels.Select(b => b.Name));

    [Theory]
    [MemberData(nameof(BadPanelNames))]
    public void Bad_panel_gives_exactly_these_errors(string name)
    {
        var c = BadPanels.Single(b => b.Name == name);
        var catalog = Catalog(null, ("/b/nolcd.yaml", "name: nolcd\n"), ("/b/bad.yaml", "name: Bad Board\n"),
            ("rpi4", File.ReadAllText(Path.Combine(BoardDir, "lab.yaml"))));
        var result = LoadWith(c.Extra, c.NoCatalog ? null : catalog);
        Assert.False(result.Ok);
        var actual = result.Errors.Select(e => e.ToString()).ToArray();
        Assert.True(c.Expected.SequenceEqual(actual), $"expected:\n  {string.Join("\n  ", c.Expected)}\nactual:\n  {string.Join("\n  ", actual)}");
    }
}
