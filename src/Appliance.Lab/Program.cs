using Appliance.Lab;

// appliance-lab: the devices and helpers the lab and the integration tests stand up around the
// appliance. One subcommand per tool; each lives in its own file.
return args switch
{
    ["pdusim", .. var rest] => PduSimulator.Command(rest),
    ["garp", .. var rest] => RogueClaim.Command(rest),
    ["serve", .. var rest] when rest.Contains("--hold") => RealServer.Command(rest),
    ["serve", .. var rest] => NameService.Command(rest),
    ["client", .. var rest] => LabClient.Command(rest),
    ["help" or "--help" or "-h"] => Usage(Console.Out, 0),
    _ => Usage(Console.Error, 2),
};

static int Usage(TextWriter to, int exitCode)
{
    to.WriteLine("usage: appliance-lab <command> [options]");
    to.WriteLine();
    to.WriteLine("commands:");
    to.WriteLine($"  pdusim   {PduSimulator.Summary}");
    to.WriteLine($"  garp     {RogueClaim.Summary}");
    to.WriteLine($"  serve    {NameService.Summary}");
    to.WriteLine("           serve NAME PORT --hold [--health HPORT --health-file FILE]: a real server (greets, echoes, switchable health)");
    to.WriteLine($"  client   {LabClient.Summary}");
    to.WriteLine();
    to.WriteLine("appliance-lab <command> --help shows a command's options.");
    return exitCode;
}
