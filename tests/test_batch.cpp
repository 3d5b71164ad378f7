// The parts of `deepcd batch` (apps/batch/) on their own: the JSON reader,
// the journal (a cut last line is ignored, the last record counts), the
// -batch_shard parser, the validation that -resume trusts (format, shape,
// finite values, the .xmf), and the removal of stale staging directories.
// tests/batch.sh runs the whole command.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include "test_util.h"
#include "batch/batch.h"

namespace {

struct Fields {
  std::map<std::string, std::string> str;
  std::map<std::string, double>      num;
};

void Collect(const char key[], const char *s, double v, void *ctx)
{
  Fields *f = static_cast<Fields *>(ctx);
  if (s)
    f->str[key] = s;
  else
    f->num[key] = v;
}

TEST(BatchJSON, FlatObjectsOnlyAndEscapesRoundTrip)
{
  Fields f;
  ASSERT_EQ(DeepCDBatchJSONParseObject("{\"a\": \"x\\\"y\\\\z\\u0001\", \"b\": -1.5e3, \"c\": null}", Collect, &f), 0);
  EXPECT_EQ(f.str["a"], std::string("x\"y\\z\x01"));
  EXPECT_EQ(f.num["b"], -1500.0);
  EXPECT_TRUE(std::isnan(f.num["c"]));
  // cut, nested, trailing text: not a record
  for (const char *bad : { "{\"a\": \"x", "{\"a\": 1", "{\"a\": {\"b\": 1}}", "{\"a\": 1} x", "[1]", "" }) {
    Fields g;
    EXPECT_NE(DeepCDBatchJSONParseObject(bad, Collect, &g), 0) << bad;
  }
  // what the writer quotes reads back
  DeepCDBatchText t = {};
  DeepCDBatchTextPrintf(&t, "{\"k\": ");
  DeepCDBatchTextQuoted(&t, "a \"quoted\"\tpath\\with,comma", PETSC_FALSE);
  DeepCDBatchTextPrintf(&t, "}");
  ASSERT_FALSE(t.bad);
  Fields h;
  ASSERT_EQ(DeepCDBatchJSONParseObject(t.s, Collect, &h), 0);
  EXPECT_EQ(h.str["k"], "a \"quoted\"\tpath\\with,comma");
  DeepCDBatchTextFree(&t);
}

TEST(BatchShard, ParsedOrRefused)
{
  PetscInt i = -1, n = -1;
  EXPECT_EQ(DeepCDBatchParseShard("3/8", &i, &n), 0);
  EXPECT_EQ(i, 3);
  EXPECT_EQ(n, 8);
  for (const char *bad : { "8/8", "1/0", "-1/4", "a/b", "1/2x", "12", "" }) EXPECT_NE(DeepCDBatchParseShard(bad, &i, &n), 0) << bad;
}

// A list of two problems, as DeepCDBatchListRead() makes it.
struct TwoItems {
  std::string     text;
  DeepCDBatchItem items[2] = {};
  DeepCDBatchList list     = {};
  TwoItems()
  {
    text          = std::string("in/a.h5") + '\0' + "a" + '\0' + "in/b.h5" + '\0' + "b" + '\0';
    items[0].path = text.c_str();
    items[0].stem = text.c_str() + 8;
    items[1].path = text.c_str() + 10;
    items[1].stem = text.c_str() + 18;
    list.n        = 2;
    list.items    = items;
  }
};

TEST(BatchJournal, CutLastLineIgnoredAndLastRecordCounts)
{
  const std::string dir = TestTempDir("batch_journal");
  char              journal[PETSC_MAX_PATH_LEN];
  TwoItems          two;
  ASSERT_EQ(DeepCDBatchJournalName(dir.c_str(), 0, 1, 3, journal, sizeof(journal)), 0);
  EXPECT_EQ(std::string(journal), dir + "/journal.g3.jsonl");

  DeepCDBatchResult r = {};
  r.status            = DEEPCD_BATCH_FAILED;
  r.ranks             = 2;
  snprintf(r.error, sizeof(r.error), "in/a.h5: not an HDF5 file");
  ASSERT_EQ(DeepCDBatchJournalAppend(journal, "in/a.h5", "a", &r), 0);
  r            = {};
  r.status     = DEEPCD_BATCH_OK;
  r.ranks      = 4;
  r.iterations = 17;
  snprintf(r.reason, sizeof(r.reason), "CONVERGED_RTOL");
  ASSERT_EQ(DeepCDBatchJournalAppend(journal, "in/a.h5", "a", &r), 0);
  {
    // a kill in the middle of a line
    std::ofstream f(journal, std::ios::app);
    f << "{\"journal\":\"deepcd-batch-journal\",\"version\":1,\"problem\":\"in/b.h5\",\"sta";
  }
  PetscBool         found[2];
  DeepCDBatchResult last[2];
  PetscInt          bad = -1;
  ASSERT_EQ(DeepCDBatchJournalRead(dir.c_str(), &two.list, found, last, &bad), 0);
  EXPECT_EQ(bad, 1);
  EXPECT_TRUE(found[0]);
  EXPECT_FALSE(found[1]);
  EXPECT_EQ(last[0].status, DEEPCD_BATCH_OK);
  EXPECT_EQ(last[0].ranks, 4);
  EXPECT_EQ(last[0].iterations, 17);
  EXPECT_STREQ(last[0].reason, "CONVERGED_RTOL");
  PetscBool exists = PETSC_FALSE;
  EXPECT_EQ(DeepCDBatchJournalExists(dir.c_str(), &exists), 0);
  EXPECT_TRUE(exists);
}

// One double of dataset x set to v.
void Poke(const std::string &file, double v)
{
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t   d = H5Dopen2(f, "x", H5P_DEFAULT), s = H5Dget_space(d);
  hsize_t at[3] = { 1, 2, 3 }, one[3] = { 1, 1, 1 };
  hid_t   m = H5Screate_simple(3, one, nullptr);
  H5Sselect_hyperslab(s, H5S_SELECT_SET, at, nullptr, one, nullptr);
  ASSERT_GE(H5Dwrite(d, H5T_NATIVE_DOUBLE, m, s, H5P_DEFAULT, &v), 0);
  H5Sclose(m);
  H5Sclose(s);
  H5Dclose(d);
  H5Fclose(f);
}

TEST(BatchOutput, ValidationChecksShapeFiniteValuesAndSidecar)
{
  const std::string dir = TestTempDir("batch_validate");
  WriteScene("spheres", 6, 5, 4, 1, dir + "/p.h5");
  ASSERT_EQ(mkdir((dir + "/out").c_str(), 0755), 0);
  CommandResult s = RunCommand(CliPath() + " solve " + dir + "/p.h5 -o " + dir + "/out/p.h5");
  ASSERT_EQ(s.status, 0) << s.err;
  const std::string out     = dir + "/out";
  long long         dims[3] = { 6, 5, 4 }, wrong[3] = { 6, 5, 5 };
  PetscBool         valid = PETSC_FALSE;
  DeepCDBatchResult r     = {};
  char              why[1024];

  ASSERT_EQ(DeepCDBatchOutputValidate(out.c_str(), "p", dims, &valid, &r, why, sizeof(why)), 0);
  EXPECT_TRUE(valid) << why;
  EXPECT_GT(r.iterations, 0);
  EXPECT_STREQ(r.reason, "CONVERGED_RTOL");

  ASSERT_EQ(DeepCDBatchOutputValidate(out.c_str(), "p", wrong, &valid, &r, why, sizeof(why)), 0);
  EXPECT_FALSE(valid);
  EXPECT_NE(std::string(why).find("attribute 'nz' = 4, the problem has 5"), std::string::npos) << why;

  ASSERT_EQ(DeepCDBatchOutputValidate(out.c_str(), "missing", dims, &valid, &r, why, sizeof(why)), 0);
  EXPECT_FALSE(valid);
  EXPECT_NE(std::string(why).find("missing"), std::string::npos) << why;

  Poke(out + "/p.h5", std::numeric_limits<double>::quiet_NaN());
  ASSERT_EQ(DeepCDBatchOutputValidate(out.c_str(), "p", dims, &valid, &r, why, sizeof(why)), 0);
  EXPECT_FALSE(valid);
  EXPECT_NE(std::string(why).find("NaN or Inf"), std::string::npos) << why;

  Poke(out + "/p.h5", 0.0);
  ASSERT_EQ(DeepCDBatchOutputValidate(out.c_str(), "p", dims, &valid, &r, why, sizeof(why)), 0);
  EXPECT_TRUE(valid) << why;
  ASSERT_EQ(unlink((out + "/p.xmf").c_str()), 0);
  ASSERT_EQ(DeepCDBatchOutputValidate(out.c_str(), "p", dims, &valid, &r, why, sizeof(why)), 0);
  EXPECT_FALSE(valid);
  EXPECT_NE(std::string(why).find("p.xmf: missing"), std::string::npos) << why;
}

TEST(BatchOutput, StaleStagingOfDeadProcessesRemovedOthersKept)
{
  const std::string dir = TestTempDir("batch_stale");
  char              mine[PETSC_MAX_PATH_LEN];
  ASSERT_EQ(DeepCDBatchStagingName(dir.c_str(), mine, sizeof(mine)), 0);
  // a process of this host that is gone
  pid_t child = fork();
  if (!child) _exit(0);
  ASSERT_GT(child, 0);
  waitpid(child, nullptr, 0);
  std::string dead        = mine;
  dead                    = dead.substr(0, dead.rfind('.') + 1) + std::to_string((long) child);
  const std::string other = dir + "/.deepcd-batch.some_other_host.12345";
  ASSERT_EQ(DeepCDBatchStagingCreate(mine), 0);
  ASSERT_EQ(DeepCDBatchStagingCreate(dead.c_str()), 0);
  ASSERT_EQ(mkdir(other.c_str(), 0755), 0);
  std::ofstream(dead + "/p.h5.tmp.1") << "partial";
  PetscInt removed = -1, others = -1;
  ASSERT_EQ(DeepCDBatchRemoveStale(dir.c_str(), &removed, &others), 0);
  EXPECT_EQ(removed, 1);
  EXPECT_EQ(others, 1);
  EXPECT_FALSE(FileExists(dead));
  EXPECT_TRUE(FileExists(mine)); // this process's own
  EXPECT_TRUE(FileExists(other));
  EXPECT_EQ(DeepCDBatchStagingRemove(mine), 0);
  EXPECT_FALSE(FileExists(mine));
}

} // namespace
