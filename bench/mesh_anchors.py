#!/usr/bin/python3
"""The anchors of bench/mesh.sh: VTK's Flying Edges and Marching Cubes and
scikit-image's marching cubes on the same field as bench/mesh_bench.c.

usage: mesh_anchors.py vtk-fe|vtk-fe1|vtk-mc|skimage FIELD.raw SHAPE N REPEAT

vtk-fe runs Flying Edges on VTK's default SMP threads, vtk-fe1 on one thread.

FIELD.raw holds the (N+1)^3 float64 vertex values of [-1, 1]^3, x fastest
(mesh_bench --field-out). Prints one JSON object like mesh_bench: the best
and all times of the extraction call alone (the field already in memory),
and the vertex and triangle counts. Exits 3 with a one-line note on stderr
when the tool is not installed (scripts/install-deps.sh --bench).
"""
import json
import sys
import time


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    tool, path, shape, n, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    try:
        import numpy as np
    except ImportError:
        print("mesh_anchors: numpy is not installed: anchor skipped (scripts/install-deps.sh --bench)", file=sys.stderr)
        sys.exit(3)
    field = np.fromfile(path, dtype=np.float64)
    if field.size != (n + 1) ** 3:
        sys.exit("mesh_anchors: %s holds %d values, expected (%d+1)^3" % (path, field.size, n))
    h = 2.0 / n
    times, nverts, ntris, extra = [], 0, 0, {}
    if tool in ("vtk-fe", "vtk-fe1", "vtk-mc"):
        try:
            from vtkmodules.util import numpy_support
            from vtkmodules.vtkCommonCore import vtkSMPTools
            from vtkmodules.vtkCommonDataModel import vtkImageData
            from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D, vtkMarchingCubes
        except ImportError:
            print("mesh_anchors: VTK's Python modules (python3-vtk9) are not installed: anchor skipped (scripts/install-deps.sh --bench)", file=sys.stderr)
            sys.exit(3)
        if tool == "vtk-fe1":
            vtkSMPTools.Initialize(1)
        img = vtkImageData()
        img.SetDimensions(n + 1, n + 1, n + 1)
        img.SetOrigin(-1.0, -1.0, -1.0)
        img.SetSpacing(h, h, h)
        arr = numpy_support.numpy_to_vtk(field, deep=0)
        arr.SetName("f")
        img.GetPointData().SetScalars(arr)
        f = vtkMarchingCubes() if tool == "vtk-mc" else vtkFlyingEdges3D()
        f.SetInputData(img)
        f.SetValue(0, 0.0)
        # positions and triangles only, as deepcd computes
        f.ComputeNormalsOff()
        f.ComputeGradientsOff()
        f.ComputeScalarsOff()
        for _ in range(repeat):
            f.Modified()
            t0 = time.perf_counter()
            f.Update()
            times.append(time.perf_counter() - t0)
        out = f.GetOutput()
        nverts, ntris = out.GetNumberOfPoints(), out.GetNumberOfCells()
        if tool != "vtk-mc":
            extra = {"smp_backend": vtkSMPTools.GetBackend(), "threads": vtkSMPTools.GetEstimatedNumberOfThreads()}
    elif tool == "skimage":
        try:
            from skimage import measure
        except ImportError:
            print("mesh_anchors: scikit-image (python3-skimage) is not installed: anchor skipped (scripts/install-deps.sh --bench)", file=sys.stderr)
            sys.exit(3)
        vol = field.reshape(n + 1, n + 1, n + 1)  # (z, y, x)
        for _ in range(repeat):
            t0 = time.perf_counter()
            verts, faces, _, _ = measure.marching_cubes(vol, level=0.0, spacing=(h, h, h))
            times.append(time.perf_counter() - t0)
        nverts, ntris = len(verts), len(faces)
    else:
        sys.exit("mesh_anchors: unknown tool %s" % tool)
    rec = {"tool": tool, "shape": shape, "n": n, "extract_s": round(min(times), 6), "extract_all_s": [round(t, 6) for t in times], "verts": nverts, "tris": ntris}
    rec.update(extra)
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
