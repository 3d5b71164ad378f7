// Adam (src/nn/adam.c) against the update written out by hand.
#include <gtest/gtest.h>
#include <cmath>
#include <deepcd/nn.h>

TEST(NnAdam, TwoStepsAsWrittenOut)
{
  nn_adam *a = nullptr;
  ASSERT_EQ(nn_adam_create(2, &a), NN_SUCCESS);
  float       p[2]  = { 1.0f, -2.0f };
  const float g1[2] = { 0.5f, -1.0f }, g2[2] = { -0.25f, 2.0f };
  ASSERT_EQ(nn_adam_step(a, p, g1, 0.1), NN_SUCCESS);
  ASSERT_EQ(nn_adam_step(a, p, g2, 0.1), NN_SUCCESS);
  EXPECT_EQ(a->t, 2);
  // by hand in double
  for (int i = 0; i < 2; i++) {
    double       q = i ? -2.0 : 1.0, m = 0, v = 0;
    const double gs[2] = { g1[i], g2[i] };
    for (int t = 1; t <= 2; t++) {
      m = 0.9 * m + 0.1 * gs[t - 1];
      v = 0.999 * v + 0.001 * gs[t - 1] * gs[t - 1];
      q -= 0.1 * (m / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.999, t))) + 1e-8);
    }
    EXPECT_NEAR(p[i], q, 1e-6) << i;
  }
  nn_adam_destroy(&a);
  EXPECT_EQ(a, nullptr);
}

TEST(NnAdam, WeightDecayIsDecoupled)
{
  nn_adam *a = nullptr;
  ASSERT_EQ(nn_adam_create(1, &a), NN_SUCCESS);
  a->weight_decay  = 0.5;
  float       p[1] = { 2.0f };
  const float g[1] = { 0.0f };
  ASSERT_EQ(nn_adam_step(a, p, g, 0.1), NN_SUCCESS);
  EXPECT_FLOAT_EQ(p[0], 2.0f - 0.1f * 0.5f * 2.0f); // zero gradient: only the decay
  nn_adam_destroy(&a);
}

TEST(NnAdam, RefusesBadInput)
{
  nn_adam *a = nullptr;
  EXPECT_EQ(nn_adam_create(0, &a), NN_ERR_ARG);
  EXPECT_EQ(a, nullptr);
  ASSERT_EQ(nn_adam_create(2, &a), NN_SUCCESS);
  float       p[2] = { 1, 2 };
  const float g[2] = { 1, NAN };
  EXPECT_EQ(nn_adam_step(a, p, g, 0.1), NN_ERR_ARG);
  EXPECT_NE(std::string(nn_error_message()).find("not finite"), std::string::npos);
  EXPECT_EQ(p[0], 1.0f) << "nothing changes on a refused step";
  EXPECT_EQ(a->t, 0);
  const float g2[2] = { 1, 1 };
  EXPECT_EQ(nn_adam_step(a, p, g2, -1.0), NN_ERR_ARG);
  nn_adam_destroy(&a);
}
