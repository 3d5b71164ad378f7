// deepcd moe train|eval: the command end to end (docs/options.md, docs/formats.md "MoE run file").
#include <gtest/gtest.h>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>
#include "test_util.h"

namespace {

std::string Cli()
{
  return "env OMPI_MCA_pml=ob1 " + CliPath() + " moe ";
}

const std::string kTiny = " --grid 16,10 --basis 6 --width 12 --points 40 --batch 2 --train 6 --test 2 --lr 1e-2 --plot none";

// Each bad input gives one error line naming the problem, a non-zero exit and no output file.
TEST(CliMoe, BadInputFailsWithOneLine)
{
  const std::string dir = TestTempDir("cli_moe_bad"), out = dir + "/run.h5";
  {
    FILE *f = fopen((dir + "/text.h5").c_str(), "w");
    fputs("not hdf5\n", f);
    fclose(f);
  }
  const struct {
    std::string args, expect;
  } cases[] = {
    { "train --pde wave -o " + out, "unknown moe PDE 'wave'" },
    { "train --pde heat", "no output file given" },
    { "train -o " + out, "no problem given" },
    { "train --pde heat --experts 2 -o " + out, "option --experts: '2'" },
    { "train --pde heat --steps -3 -o " + out, "option --steps: '-3'" },
    { "train --pde heat --lr abc -o " + out, "option --lr: 'abc'" },
    { "train --pde heat --bogus 1 -o " + out, "unknown option '--bogus'" },
    { "train --pde heat --model medium -o " + out, "option --model: 'medium'" },
    { "train --pde heat --model soft --experts 2,2 -o " + out, "the soft model has no experts" },
    { "train --pde heat -o " + dir + "/missing/run.h5", "does not exist or is not writable" },
    { "train --pde heat --resume " + dir + "/none.h5 -o " + out, "none.h5: cannot read the file" },
    { "train --pde heat --resume " + dir + "/text.h5 -o " + out, "text.h5: not an HDF5 file" },
    { "train --pde heat --grid 2,2 -o " + out, "grid 2 x 2: need at least 4 x 4" },
    { "eval " + dir + "/none.h5", "none.h5: cannot read the file" },
    { "train --pde heat -moe_heat_kappa nan -o " + out, "-moe_heat_kappa nan: the constant must be a finite positive number" },
    { "train --pde heat -moe_heat_kappa -0.1 -o " + out, "-moe_heat_kappa -0.1: the constant must be a finite positive number" },
    { "train --pde burgers -moe_burgers_x0 inf -o " + out, "-moe_burgers_x0 inf: the parameter must be a finite number" },
    { "train --pde heat --clip -1 -o " + out, "option --clip: '-1' must be 0 (no cap) or positive" },
    { "train --pde heat --clip nan -o " + out, "option --clip: 'nan'" },
    { "train --pde heat --lr 0 -o " + out, "option --lr: '0' must be positive" },
    { "train --pde heat --lr-decay -0.5,800,1e-4 -o " + out, "option --lr-decay: '-0.5,800,1e-4': the factor must be positive" },
    { "train --pde heat --loss-weights 1,-1,1 -o " + out, "option --loss-weights: '1,-1,1': the weights must be non-negative" },
    { "train --pde heat -moe_ridge nan -o " + out, "-moe_ridge nan: must be finite and non-negative" },
    { "train --pde heat -moe_lm_gatol nan -o " + out, "-moe_lm_gatol nan: must be finite" },
    { "train --pde heat -moe_lm_max_it 4294967298 -o " + out, "option -moe_lm_max_it: 4294967298 is out of range" },
    { "train --pde heat --backbone cnn -o " + out, "option --backbone: 'cnn' is not mlp or fno" },
    { "train --pde heat --backbone mlp --modes 4 -o " + out, "option --modes 4: only the fno backbone has Fourier modes" },
    { "train --pde heat --backbone fno --modes 0 -o " + out, "option --modes: '0' must be at least 1" },
    { "train --pde heat --backbone fno --depth 0 -o " + out, "option --depth 0: the fno needs at least 1 Fourier layer" },
    { "train --pde heat --backbone fno -moe_fno_pad -1 -o " + out, "-moe_fno_pad -1: must be non-negative" },
    { "train --pde heat --backbone fno -moe_fno_fc 0 -o " + out, "-moe_fno_fc 0: must be at least 1" },
    { "train --pde heat -moe_coupling_weight 0 -o " + out, "-moe_coupling_weight 0: must be finite and positive" },
    { "train --pde heat -moe_coupling edge -o " + out, "edge" },
    { "train --pde heat --report -o " + out, "option --report is for eval only" },
    { "train --pde ns --backbone fno -o " + out, "an FNO3d is not implemented: use the mlp backbone" },
    { "train --pde ns --experts 2,2 -o " + out, "option --experts: '2,2' is not 3 comma-separated numbers" },
    { "train --pde ns --grid 16,16 -o " + out, "option --grid: '16,16' is not 3 comma-separated numbers" },
    { "train --pde ns -moe_ns_nu 0 -o " + out, "-moe_ns_nu 0: the constant must be a finite positive number" },
    { "eval", "no run file given" },
    { "frob", "unknown subcommand 'frob'" },
  };
  ASSERT_EQ(RunCommand("mkdir -p " + dir + "/adir.h5").status, 0); // an output that cannot be replaced
  for (const auto &c : cases) {
    CommandResult r = RunCommand(Cli() + c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << ": " << r.err;
    EXPECT_FALSE(FileExists(out)) << c.args;
  }
  EXPECT_TRUE(RunCommand("ls " + dir + "/adir.h5.tmp* 2> /dev/null").out.empty());
}

// train writes a run file; eval reproduces its held-out errors; --resume of a
// checkpoint reaches the same parameters as the uninterrupted run.
TEST(CliMoe, TrainEvalResume)
{
  const std::string dir = TestTempDir("cli_moe_run");
  CommandResult     r   = RunCommand(Cli() + "train --pde burgers --experts 2,1 --steps 4 --eval-every 2" + kTiny + " -o " + dir + "/whole.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("held-out relative L2 error"), std::string::npos) << r.out;
  const std::vector<double> errs = ReadDataset(dir + "/whole.h5", "errors");
  ASSERT_EQ(errs.size(), 2u);
  ASSERT_EQ(ReadDataset(dir + "/whole.h5", "prediction").size(), 2u * 16 * 10);
  ASSERT_EQ(ReadDataset(dir + "/whole.h5", "loss").size(), 4u);

  r = RunCommand(Cli() + "eval " + dir + "/whole.h5 -o " + dir + "/eval.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("mean relative L2 error"), std::string::npos) << r.out;
  EXPECT_EQ(ReadDataset(dir + "/eval.h5", "errors"), errs);
  EXPECT_EQ(r.out.find("per expert"), std::string::npos) << r.out;

  // --report: one line per expert after the header (before or after the run file)
  for (const std::string &args : { "eval --report " + dir + "/whole.h5", "eval " + dir + "/whole.h5 --report" }) {
    r = RunCommand(Cli() + args);
    ASSERT_EQ(r.status, 0) << r.err;
    const size_t at = r.out.find("expert   LM steps   at cap   1/2||r||^2   log10 cond\n");
    ASSERT_NE(at, std::string::npos) << r.out;
    EXPECT_EQ(std::count(r.out.begin() + at, r.out.end(), '\n'), 3) << r.out; // the header and experts 0 and 1
    EXPECT_NE(r.out.find("coupling interface; LM cap 50"), std::string::npos) << r.out; // the default
  }
  // a coupled run: eval reads the coupling from the run file and reproduces its errors
  r = RunCommand(Cli() + "train --pde heat --experts 2,1 --steps 2 --eval-every 2 -moe_coupling interface -moe_coupling_weight 4" + kTiny + " -o " + dir + "/coupled.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunCommand(Cli() + "eval " + dir + "/coupled.h5 --report -o " + dir + "/coupled-eval.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("coupling interface; LM cap 50"), std::string::npos) << r.out;
  EXPECT_EQ(ReadDataset(dir + "/coupled-eval.h5", "errors"), ReadDataset(dir + "/coupled.h5", "errors"));
  // the soft model has no experts: refused in one line, no output
  r = RunCommand(Cli() + "train --pde heat --model soft --steps 1" + kTiny + " -o " + dir + "/soft.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunCommand(Cli() + "eval " + dir + "/soft.h5 --report -o " + dir + "/soft-eval.h5");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("soft.h5 is a soft model, which has no experts to report"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(FileExists(dir + "/soft-eval.h5"));

  r = RunCommand(Cli() + "train --pde burgers --experts 2,1 --steps 2 --eval-every 2 --checkpoint-every 2" + kTiny + " -o " + dir + "/half.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(FileExists(dir + "/half.h5.ckpt"));
  r = RunCommand(Cli() + "train --pde burgers --experts 2,1 --steps 4 --eval-every 2 --resume " + dir + "/half.h5.ckpt" + kTiny + " -o " + dir + "/resumed.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(ReadDataset(dir + "/resumed.h5", "theta"), ReadDataset(dir + "/whole.h5", "theta"));
  EXPECT_EQ(ReadDataset(dir + "/resumed.h5", "loss"), ReadDataset(dir + "/whole.h5", "loss"));

  // a checkpoint of other settings is refused
  r = RunCommand(Cli() + "train --pde burgers --experts 1,1 --steps 4 --resume " + dir + "/half.h5.ckpt" + kTiny + " -o " + dir + "/other.h5");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("the checkpoint has kx 2, this run 1"), std::string::npos) << r.err;
  EXPECT_FALSE(FileExists(dir + "/other.h5"));
}

// ns: train writes a run file with ny and 4-D predictions; eval reproduces the held-out errors.
TEST(CliMoe, TrainEvalNavierStokes)
{
  const std::string dir = TestTempDir("cli_moe_ns");
  CommandResult     r   = RunCommand(Cli() + "train --pde ns --grid 8,8,5 --experts 2,2,1 --basis 6 --width 12 --points 40 --batch 1 --train 2 --test 2 --steps 2 --eval-every 2 --plot none -o " + dir + "/run.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("2x2x1 experts"), std::string::npos) << r.out;
  r = RunCommand(Cli() + "eval " + dir + "/run.h5 -o " + dir + "/eval.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(ReadDataset(dir + "/eval.h5", "errors"), ReadDataset(dir + "/run.h5", "errors"));
  EXPECT_EQ(ReadDataset(dir + "/run.h5", "prediction").size(), 2u * 5 * 8 * 8);
}

// --backbone fno: the run file records it; eval rebuilds the FNO and reproduces the held-out errors.
TEST(CliMoe, TrainEvalFno)
{
  const std::string dir = TestTempDir("cli_moe_fno");
  CommandResult     r   = RunCommand(Cli() + "train --pde heat --backbone fno --depth 2 --modes 3 -moe_fno_fc 8 -moe_fno_pad 2 --experts 2,1 --steps 2 --eval-every 2" + kTiny + " -o " + dir + "/run.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("fno backbone"), std::string::npos) << r.out;
  r = RunCommand(Cli() + "eval " + dir + "/run.h5 -o " + dir + "/eval.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("fno backbone"), std::string::npos) << r.out;
  EXPECT_EQ(ReadDataset(dir + "/eval.h5", "errors"), ReadDataset(dir + "/run.h5", "errors"));
}

} // namespace
