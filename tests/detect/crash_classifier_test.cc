// Crash classification from exit status and real-looking stderr tails, one per class, plus the
// priorities between signatures and the traceback parser.
#include "detect/crash_classifier.h"

#include <gtest/gtest.h>

#include <csignal>

namespace inloop::detect {
namespace {

TEST(CrashClassifierTest, CudaOutOfMemory) {
  const char* tail = R"([rank0]: Traceback (most recent call last):
[rank0]:   File "/home/u/train.py", line 212, in <module>
[rank0]:     loss.backward()
[rank0]:   File "/usr/lib/python3/dist-packages/torch/_tensor.py", line 521, in backward
[rank0]:     torch.autograd.backward(
[rank0]:   File "/usr/lib/python3/dist-packages/torch/autograd/__init__.py", line 289, in backward
[rank0]:     _engine_run_backward(
[rank0]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.10 GiB of which 1.23 GiB is free. Including non-PyTorch memory, this process has 77.86 GiB memory in use. Of the allocated memory 75.02 GiB is allocated by PyTorch, and 1.98 GiB is reserved by PyTorch but unallocated.
)";
  CrashReport r = ClassifyCrash(1, 0, tail);
  EXPECT_EQ(r.name(), "cuda_oom");
  EXPECT_EQ(r.retry, Retry::kWithSmallerBatch);
  EXPECT_FALSE(r.transient);
  EXPECT_EQ(r.exception_type, "torch.OutOfMemoryError");
  EXPECT_EQ(r.exception_message.rfind("CUDA out of memory. Tried to allocate 2.00 GiB", 0), 0u);
  EXPECT_NE(r.signature.find("CUDA out of memory"), std::string::npos);
  EXPECT_EQ(r.tail, tail);
}

TEST(CrashClassifierTest, CudaOomOlderTorchAndCublas) {
  EXPECT_EQ(ClassifyCrash(1, 0,
                          "Traceback (most recent call last):\n"
                          "  File \"train.py\", line 88, in <module>\n"
                          "    out = model(x)\n"
                          "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate "
                          "20.00 MiB (GPU 0; 15.78 GiB total capacity; 14.61 GiB already "
                          "allocated; 3.75 MiB free; 14.70 GiB reserved in total by PyTorch)\n")
                .name(),
            "cuda_oom");
  CrashReport r = ClassifyCrash(
      1, 0,
      "RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`\n");
  EXPECT_EQ(r.name(), "cuda_oom");
  EXPECT_EQ(r.exception_type, "");  // no traceback header, just the last line
}

TEST(CrashClassifierTest, HostOomBySignal) {
  CrashReport r =
      ClassifyCrash(std::nullopt, SIGKILL, "step 1200 loss 2.31\nstep 1210 loss 2.30\n");
  EXPECT_EQ(r.name(), "host_oom");
  EXPECT_EQ(r.retry, Retry::kYes);
  EXPECT_NE(r.summary.find("inferred"), std::string::npos);
  EXPECT_EQ(ClassifyCrash(137, 0, "").name(), "host_oom");  // the shell's 128 + 9
}

TEST(CrashClassifierTest, HostOomByKernelMessage) {
  CrashReport r =
      ClassifyCrash(1, 0,
                    "[ 8123.456] Out of memory: Killed process 4242 (python) total-vm:123456789kB, "
                    "anon-rss:98765432kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:200000kB "
                    "oom_score_adj:0\n");
  EXPECT_EQ(r.name(), "host_oom");
  EXPECT_EQ(
      ClassifyCrash(137, 0, "train.sh: line 12:  4242 Killed  python train.py\nKilled\n").name(),
      "host_oom");
}

TEST(CrashClassifierTest, NcclWatchdogTimeout) {
  const char* tail =
      "[default3]:[E ProcessGroupNCCL.cpp:475] [Rank 3] Watchdog caught collective operation "
      "timeout: WorkNCCL(SeqNum=112233, OpType=ALLREDUCE, NumelIn=1048576, NumelOut=1048576, "
      "Timeout(ms)=600000) ran for 600043 milliseconds before timing out.\n"
      "[default3]:[E ProcessGroupNCCL.cpp:489] Some NCCL operations have failed or timed out. "
      "Due to the asynchronous nature of CUDA kernels, subsequent GPU operations might run on "
      "corrupted/incomplete data.\n"
      "[default3]:[E ProcessGroupNCCL.cpp:495] To avoid data inconsistency, we are taking the "
      "entire process down.\n"
      "[default3]:terminate called after throwing an instance of 'std::runtime_error'\n";
  CrashReport r = ClassifyCrash(std::nullopt, SIGABRT, tail);
  EXPECT_EQ(r.name(), "nccl_timeout");
  EXPECT_TRUE(r.transient);
  EXPECT_EQ(r.retry, Retry::kYes);
  EXPECT_NE(r.summary.find("SIGABRT"), std::string::npos) << r.summary;
}

TEST(CrashClassifierTest, NcclInfoLinesAreNotAnError) {
  CrashReport r = ClassifyCrash(1, 0,
                                "node1:123:456 [0] NCCL INFO Bootstrap : Using eth0:10.0.0.1<0>\n"
                                "node1:123:456 [0] NCCL INFO NET/Plugin : No plugin found\n"
                                "Traceback (most recent call last):\n"
                                "  File \"train.py\", line 10, in <module>\n"
                                "    cfg = CONFIGS[name]\n"
                                "KeyError: 'gpt2-xxl'\n");
  EXPECT_EQ(r.name(), "python_exception");
  EXPECT_EQ(r.exception_type, "KeyError");
  EXPECT_EQ(r.exception_message, "'gpt2-xxl'");
  EXPECT_EQ(r.retry, Retry::kNo);
}

TEST(CrashClassifierTest, IllegalMemoryAccessBeatsNccl) {
  const char* tail =
      "[rank1]:[E ProcessGroupNCCL.cpp:1537] [PG 0 Rank 1] Process group watchdog thread "
      "terminated with exception: CUDA error: an illegal memory access was encountered\n"
      "CUDA kernel errors might be asynchronously reported at some other API call, so the "
      "stacktrace below might be incorrect.\n"
      "For debugging consider passing CUDA_LAUNCH_BLOCKING=1.\n";
  CrashReport r = ClassifyCrash(std::nullopt, SIGABRT, tail);
  EXPECT_EQ(r.name(), "gpu_fault");
  EXPECT_TRUE(r.transient);
}

TEST(CrashClassifierTest, XidAndEcc) {
  EXPECT_EQ(ClassifyCrash(1, 0,
                          "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the "
                          "bus.\n")
                .name(),
            "gpu_fault");
  EXPECT_EQ(
      ClassifyCrash(1, 0, "RuntimeError: CUDA error: uncorrectable ECC error encountered\n").name(),
      "gpu_fault");
  EXPECT_EQ(ClassifyCrash(1, 0, "ValueError: bad width in getXidx\n").name(), "unknown");
}

TEST(CrashClassifierTest, DataLoaderWorkerKilled) {
  const char* tail =
      "Traceback (most recent call last):\n"
      "  File \"/usr/lib/python3/dist-packages/torch/utils/data/dataloader.py\", line 1133, in "
      "_try_get_data\n"
      "    data = self._data_queue.get(timeout=timeout)\n"
      "  File \"/usr/lib/python3/dist-packages/torch/utils/data/_utils/signal_handling.py\", "
      "line 66, in handler\n"
      "    _error_if_any_worker_fails()\n"
      "RuntimeError: DataLoader worker (pid 91234) is killed by signal: Killed. \n";
  CrashReport r = ClassifyCrash(1, 0, tail);
  EXPECT_EQ(r.name(), "dataloader_killed");
  EXPECT_EQ(r.exception_type, "RuntimeError");
  EXPECT_EQ(r.retry, Retry::kYes);
}

TEST(CrashClassifierTest, DiskFull) {
  const char* tail =
      "Traceback (most recent call last):\n"
      "  File \"train.py\", line 301, in save_checkpoint\n"
      "    torch.save(state, path)\n"
      "  File \"/usr/lib/python3/dist-packages/torch/serialization.py\", line 652, in save\n"
      "    with _open_zipfile_writer(f) as opened_zipfile:\n"
      "RuntimeError: [enforce fail at inline_container.cc:595] . unexpected pos 2147483712 vs "
      "2147483600\n"
      "\n"
      "During handling of the above exception, another exception occurred:\n"
      "\n"
      "Traceback (most recent call last):\n"
      "  File \"train.py\", line 305, in save_checkpoint\n"
      "    f.write(blob)\n"
      "OSError: [Errno 28] No space left on device\n";
  CrashReport r = ClassifyCrash(1, 0, tail);
  EXPECT_EQ(r.name(), "disk_full");
  EXPECT_EQ(r.retry, Retry::kNo);
  EXPECT_FALSE(r.transient);
  EXPECT_EQ(r.exception_type, "OSError");  // the last traceback of the chain
  EXPECT_EQ(r.exception_message, "[Errno 28] No space left on device");
}

TEST(CrashClassifierTest, Segfault) {
  CrashReport r = ClassifyCrash(std::nullopt, SIGSEGV,
                                "Fatal Python error: Segmentation fault\n\n"
                                "Current thread 0x00007f1c (most recent call first):\n"
                                "  File \"model.py\", line 40 in forward\n");
  EXPECT_EQ(r.name(), "segfault");
  EXPECT_EQ(r.retry, Retry::kYes);
  EXPECT_EQ(ClassifyCrash(139, 0, "").name(), "segfault");
  EXPECT_EQ(
      ClassifyCrash(1, 0, "bash: line 1: 777 Segmentation fault (core dumped) ./a.out\n").name(),
      "segfault");
}

TEST(CrashClassifierTest, PythonExceptionKeepsTypeAndMessage) {
  const char* tail =
      "[default7]:Traceback (most recent call last):\n"
      "[default7]:  File \"/gpfswork/Megatron-DeepSpeed/pretrain_gpt.py\", line 235, in "
      "<module>\n"
      "[default7]:    pretrain(train_valid_test_datasets_provider, model_provider, "
      "forward_step,\n"
      "[default7]:  File \"/gpfswork/Megatron-DeepSpeed/megatron/training.py\", line 141, in "
      "pretrain\n"
      "[default7]:    ^^^^^^^^^^^^^^^^^^^^^^^^\n"
      "[default7]:AssertionError: micro batch size (4) times data parallel size (48) must "
      "divide global batch size (2050)\n";
  CrashReport r = ClassifyCrash(1, 0, tail);
  EXPECT_EQ(r.name(), "python_exception");
  EXPECT_EQ(r.exception_type, "AssertionError");
  EXPECT_EQ(r.exception_message,
            "micro batch size (4) times data parallel size (48) must divide global batch size "
            "(2050)");
  EXPECT_EQ(r.retry, Retry::kNo);
  EXPECT_NE(r.summary.find("AssertionError"), std::string::npos);
}

TEST(CrashClassifierTest, TransientPythonExceptionIsRetryable) {
  CrashReport r = ClassifyCrash(
      1, 0,
      "Traceback (most recent call last):\n"
      "  File \"train.py\", line 20, in <module>\n"
      "    dist.init_process_group('nccl')\n"
      "torch.distributed.DistNetworkError: The client socket has timed out after 900s while "
      "trying to connect to (10.0.0.1, 29500).\n");
  EXPECT_EQ(r.name(), "python_exception");
  EXPECT_EQ(r.exception_type, "torch.distributed.DistNetworkError");
  EXPECT_TRUE(r.transient);
  EXPECT_EQ(r.retry, Retry::kYes);
}

TEST(CrashClassifierTest, LauncherChildFailedDefersToWorkerTraceback) {
  const char* tail =
      "[rank0]: Traceback (most recent call last):\n"
      "[rank0]:   File \"train.py\", line 50, in <module>\n"
      "[rank0]:     main()\n"
      "[rank0]: ZeroDivisionError: division by zero\n"
      "E0101 12:00:00.000000 140 torch/distributed/elastic/multiprocessing/api.py:833] failed "
      "(exitcode: 1) local_rank: 0 (pid: 4242) of binary: /usr/bin/python3\n"
      "Traceback (most recent call last):\n"
      "  File \"/usr/bin/torchrun\", line 8, in <module>\n"
      "    sys.exit(main())\n"
      "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: \n"
      "============================================================\n"
      "train.py FAILED\n";
  CrashReport r = ClassifyCrash(1, 0, tail);
  EXPECT_EQ(r.name(), "python_exception");
  EXPECT_EQ(r.exception_type, "ZeroDivisionError");
  EXPECT_EQ(r.exception_message, "division by zero");
}

TEST(CrashClassifierTest, UnknownKeepsTail) {
  CrashReport r = ClassifyCrash(3, 0, "starting\nsomething odd happened\n\n");
  EXPECT_EQ(r.name(), "unknown");
  EXPECT_EQ(r.tail, "starting\nsomething odd happened\n\n");
  EXPECT_EQ(r.signature, "something odd happened");
  EXPECT_NE(r.summary.find("exit code 3"), std::string::npos);
  EXPECT_EQ(ClassifyCrash(0, 0, "").name(), "none");
}

TEST(CrashClassifierTest, Names) {
  EXPECT_EQ(CrashClassName(CrashClass::kNcclTimeout), "nccl_timeout");
  EXPECT_EQ(CrashClassName(CrashClass::kDataloaderKilled), "dataloader_killed");
  EXPECT_EQ(RetryName(Retry::kWithSmallerBatch), "with_smaller_batch");
}

}  // namespace
}  // namespace inloop::detect
